"""`portal rotate_field_keys`: re-encrypt every field-encrypted value with the newest key.

Rotation: put the new key first in PORTAL_FIELD_KEYS (keep the old ones after it), restart
every server and worker, run this, then remove the old keys. See docs/security-at-rest.md.
"""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from cryptography.fernet import Fernet
from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import connections, models

from portal.lib.crypto import DecryptionError, key_ring, rewrite
from portal.lib.crypto.fields import EncryptedTextField
from portal.lib.crypto.storage import EncryptedStorage


def encrypted_columns(model: type[models.Model]) -> tuple[list[str], list[str]]:
    """The model's encrypted text columns and encrypted file columns."""
    texts, files = [], []
    for field in model._meta.concrete_fields:
        if isinstance(field, EncryptedTextField):
            texts.append(field.column)
        elif isinstance(field, models.FileField) and isinstance(field.storage, EncryptedStorage):
            files.append(field.column)
    return texts, files


class Command(BaseCommand):
    help = "Re-encrypt every encrypted field and file with the first key in PORTAL_FIELD_KEYS."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--batch-size", type=int, default=rewrite.BATCH_SIZE)
        parser.add_argument("--database", default="default")
        parser.add_argument(
            "--new-key", action="store_true", help="Print a new random key to put first in PORTAL_FIELD_KEYS."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["new_key"]:
            self.stdout.write(Fernet.generate_key().decode("ascii"))
            return
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be 1 or more")
        connection = connections[options["database"]]
        self.stdout.write(f"Encrypting with key {key_ring().current_id}.")
        for model in apps.get_models():
            texts, files = encrypted_columns(model)
            table, pk = model._meta.db_table, model._meta.pk.column
            try:
                if texts:
                    counts = rewrite.rewrite_text_columns(
                        connection, table, pk, texts, rewrite.text_to_current_key, options["batch_size"]
                    )
                    self._report(model, "values", counts)
                if files:
                    counts = rewrite.rewrite_file_columns(
                        connection, table, pk, files, rewrite.bytes_to_current_key, options["batch_size"]
                    )
                    self._report(model, "files", counts)
            except DecryptionError as exc:
                raise CommandError(
                    f"{model._meta.label}: {exc}. Batches before it are done; fix the keys and run this again."
                ) from exc

    def _report(self, model: type[models.Model], kind: str, counts: rewrite.Counts) -> None:
        self.stdout.write(
            f"{model._meta.label}: {counts.checked} {kind} checked, {counts.rewritten} re-encrypted, "
            f"{counts.checked - counts.rewritten} already on the newest key."
        )
