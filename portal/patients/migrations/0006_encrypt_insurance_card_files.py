"""Encrypt the insurance card photos already uploaded (docs/security-at-rest.md).

Not atomic: files are not transactional, so each file is written encrypted under a new name,
its row is pointed at it in its own transaction, and only then is the old file deleted. A run
that stops part-way is simply run again (already encrypted files are skipped).
"""

from django.db import migrations

from portal.lib.crypto import rewrite

COLUMNS = ["card_front", "card_back"]


def encrypt_files(apps, schema_editor):
    table = apps.get_model("patients", "Coverage")._meta.db_table
    rewrite.rewrite_file_columns(schema_editor.connection, table, "id", COLUMNS, rewrite.encrypt_plain_bytes)


def decrypt_files(apps, schema_editor):
    table = apps.get_model("patients", "Coverage")._meta.db_table
    rewrite.rewrite_file_columns(
        schema_editor.connection, table, "id", COLUMNS, rewrite.decrypt_to_plain_bytes
    )


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("patients", "0005_encrypt_coverage_identifiers"),
    ]

    operations = [
        migrations.RunPython(encrypt_files, decrypt_files, elidable=False),
    ]
