"""Blank the plaintext of OAuth tokens issued before hashed storage was turned on.

Hashed storage (settings `COMPLIANT_BCP_RFC9700_TOKEN_STORAGE`) keeps new tokens as a
SHA-256 checksum only, but rows written before it still hold the token itself. The
toolkit has always stored the checksum beside it and looks tokens up by the checksum, so
blanking the plaintext keeps every token working; a row whose checksum does not match its
plaintext (never expected) is left alone rather than made unusable.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.db import migrations

BATCH = 1000


def _redact(model: Any) -> None:
    pending = model.objects.exclude(token="").values_list("pk", "token", "token_checksum")
    safe: list[int] = []
    for pk, token, checksum in pending.iterator(chunk_size=BATCH):
        if hashlib.sha256(token.encode("utf-8")).hexdigest() == checksum:
            safe.append(pk)
    for start in range(0, len(safe), BATCH):
        model.objects.filter(pk__in=safe[start : start + BATCH]).update(token="")


def forwards(apps: Any, schema_editor: Any) -> None:
    for name in (settings.OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL, settings.OAUTH2_PROVIDER_REFRESH_TOKEN_MODEL):
        app_label, model_name = name.split(".")
        _redact(apps.get_model(app_label, model_name))


class Migration(migrations.Migration):
    dependencies = [
        ("smart", "0001_initial"),
        migrations.swappable_dependency(settings.OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL),
        migrations.swappable_dependency(settings.OAUTH2_PROVIDER_REFRESH_TOKEN_MODEL),
        # The toolkit's migrations that add and fill token_checksum.
        ("oauth2_provider", "0015_refreshtoken_token_checksum"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop, elidable=True)]
