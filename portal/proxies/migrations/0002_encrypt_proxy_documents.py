from django.db import migrations, models

import portal.lib.crypto.storage
import portal.proxies.models


class Migration(migrations.Migration):
    dependencies = [
        ("proxies", "0001_initial"),
    ]

    operations = [
        migrations.AlterField(
            model_name="proxydocument",
            name="file",
            field=models.FileField(
                max_length=200,
                storage=portal.lib.crypto.storage.encrypted_storage,
                upload_to=portal.proxies.models._document_path,
            ),
        ),
    ]
