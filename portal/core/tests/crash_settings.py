"""Settings for the crash test's server and worker processes: the test settings, with the
database task queue instead of the immediate backend, so the outbox is delivered by a real
`portal worker` process (which the test kills) rather than inside the request."""

from __future__ import annotations

from portal.settings import *  # noqa: F403

TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
EMAIL_BACKEND = "portal.core.tests.crash_mail.SlowMailboxBackend"
