"""A text model field stored encrypted (see portal/lib/crypto/keys.py for the format)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.db import models
from django.dispatch import receiver

from portal.lib.crypto.keys import SETTING, decrypt_text, encrypt_text, key_ring


class EncryptedTextField(models.TextField):
    """Text encrypted in the database, plain in Python.

    Each save encrypts afresh (a random IV), so the column can be neither searched nor
    sorted: every lookup except `isnull` is refused rather than silently matching nothing.
    An empty string is stored empty: it says only that the value is blank, which the form
    already allows. `max_length` limits the plaintext in forms, not the column. In Python the
    value is always the plaintext (`to_python` never decrypts), so typed input that happens
    to look like ciphertext is kept as typed, and fixtures (dumpdata) hold plaintext.
    """

    description = "Text encrypted at rest"

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        if value is None or value == "":
            return value
        return decrypt_text(value)

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt_text(str(value))

    def get_lookup(self, lookup_name: str) -> Any:
        if lookup_name == "isnull":
            return super().get_lookup(lookup_name)
        return None


@receiver(setting_changed)
def _forget_keys(setting: str, **kwargs: Any) -> None:
    # Tests swap keys with override_settings; the next value must use the new ones.
    if setting in (SETTING, "DATA_DIR", "PRODUCTION"):
        key_ring.cache_clear()


# Production refuses to start without its keys (every process loads the models at setup),
# rather than failing on the first page that shows an encrypted value.
if getattr(settings, "PRODUCTION", False):
    key_ring()
