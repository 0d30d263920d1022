"""Encrypt the proxy documents already uploaded (docs/security-at-rest.md).

Not atomic, as patients 0006: each file is written encrypted under a new name, its row is
pointed at it, then the old file is deleted; an interrupted run is simply run again.
"""

from django.db import migrations

from portal.lib.crypto import rewrite


def encrypt_files(apps, schema_editor):
    table = apps.get_model("proxies", "ProxyDocument")._meta.db_table
    rewrite.rewrite_file_columns(schema_editor.connection, table, "id", ["file"], rewrite.encrypt_plain_bytes)


def decrypt_files(apps, schema_editor):
    table = apps.get_model("proxies", "ProxyDocument")._meta.db_table
    rewrite.rewrite_file_columns(
        schema_editor.connection, table, "id", ["file"], rewrite.decrypt_to_plain_bytes
    )


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("proxies", "0002_encrypt_proxy_documents"),
    ]

    operations = [
        migrations.RunPython(encrypt_files, decrypt_files, elidable=False),
    ]
