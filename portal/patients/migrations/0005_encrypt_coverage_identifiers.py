"""Encrypt insurance member and group numbers at rest (docs/security-at-rest.md).

The columns become plain text first, so the rows can be rewritten as raw strings, then the
field class changes to EncryptedTextField (the same column type: no schema change).
Reversing decrypts them back into the old 40-character columns.
"""

from django.db import migrations, models

import portal.lib.crypto.fields
import portal.lib.crypto.storage
import portal.patients.models
from portal.lib.crypto import rewrite

COLUMNS = ["member_id", "group_number"]


def encrypt_rows(apps, schema_editor):
    table = apps.get_model("patients", "Coverage")._meta.db_table
    rewrite.rewrite_text_columns(schema_editor.connection, table, "id", COLUMNS, rewrite.encrypt_plain_text)


def decrypt_rows(apps, schema_editor):
    table = apps.get_model("patients", "Coverage")._meta.db_table
    rewrite.rewrite_text_columns(
        schema_editor.connection, table, "id", COLUMNS, rewrite.decrypt_to_plain_text
    )


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0004_communicationpreference_email_kinds_and_more"),
    ]

    operations = [
        migrations.AlterField(
            model_name="coverage",
            name="member_id",
            field=models.TextField(max_length=40, verbose_name="member ID"),
        ),
        migrations.AlterField(
            model_name="coverage",
            name="group_number",
            field=models.TextField(blank=True, max_length=40, verbose_name="group number"),
        ),
        migrations.RunPython(encrypt_rows, decrypt_rows, elidable=False),
        migrations.AlterField(
            model_name="coverage",
            name="group_number",
            field=portal.lib.crypto.fields.EncryptedTextField(
                blank=True, max_length=40, verbose_name="group number"
            ),
        ),
        migrations.AlterField(
            model_name="coverage",
            name="member_id",
            field=portal.lib.crypto.fields.EncryptedTextField(max_length=40, verbose_name="member ID"),
        ),
        migrations.AlterField(
            model_name="coverage",
            name="card_back",
            field=models.FileField(
                blank=True,
                max_length=200,
                storage=portal.lib.crypto.storage.encrypted_storage,
                upload_to=portal.patients.models._card_path,
            ),
        ),
        migrations.AlterField(
            model_name="coverage",
            name="card_front",
            field=models.FileField(
                blank=True,
                max_length=200,
                storage=portal.lib.crypto.storage.encrypted_storage,
                upload_to=portal.patients.models._card_path,
            ),
        ),
    ]
