"""An index of the tasks by status and start, for each worker's look for tasks a dead
worker left running (portal/core/lost_tasks.py), which would otherwise read the whole task
table, every finished task included, every 45 seconds.

Not a partial index of the running ones: SQLite cannot use one for `status = ?` with the
value bound, as Django sends it. The table is django-tasks-db's, so its models cannot
declare the index; the SQL is the same on SQLite and PostgreSQL. It is RunPython rather than RunSQL so that the test
databases, built from the models and then given the portal's RunPython steps
(portal.test.as_if_migrated), have it too.
"""

from typing import Any

from django.db import migrations

INDEX = "portal_tasks_status_started"
TABLE = "django_tasks_database_dbtaskresult"


def create_index(apps: Any, schema_editor: Any) -> None:
    schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {INDEX} ON {TABLE} (status, started_at)")


def drop_index(apps: Any, schema_editor: Any) -> None:
    schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0001_initial"),
        ("django_tasks_database", "0021_conditional_partial_index_ordering"),
    ]

    operations = [migrations.RunPython(create_index, drop_index)]
