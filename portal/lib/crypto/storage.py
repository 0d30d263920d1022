"""A file storage that encrypts contents on save and decrypts on open, over the default storage.

Used for uploads that identify someone (insurance card photos). It wraps whatever the default
storage is (a local volume or S3-compatible), so the file store and its backups hold only
ciphertext. Files are served by the portal's own views (which open them), never by URL.
"""

from __future__ import annotations

from typing import IO, Any

from django.core.files.base import ContentFile, File
from django.core.files.storage import Storage, storages
from django.utils.deconstruct import deconstructible

from portal.lib.crypto.keys import decrypt_bytes, encrypt_bytes


@deconstructible
class EncryptedStorage(Storage):
    """Encrypts with the field-encryption keys; names and listing are the default storage's."""

    @property
    def inner(self) -> Storage:
        # Looked up each time, so a test's overridden STORAGES or MEDIA_ROOT applies.
        return storages["default"]

    def _open(self, name: str, mode: str = "rb") -> File[Any]:
        if "w" in mode or "a" in mode:
            raise ValueError("encrypted files are written with save(), not opened for writing")
        with self.inner.open(name, "rb") as stream:
            return ContentFile(decrypt_bytes(stream.read()), name=name)

    def _save(self, name: str, content: IO[bytes] | File[Any]) -> str:
        content.seek(0)
        return self.inner.save(name, ContentFile(encrypt_bytes(content.read())))

    def read_raw(self, name: str) -> bytes:
        """The stored (encrypted) bytes, for key rotation and the tests."""
        with self.inner.open(name, "rb") as stream:
            return stream.read()

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        return self.inner.get_available_name(name, max_length=max_length)

    def delete(self, name: str) -> None:
        self.inner.delete(name)

    def exists(self, name: str) -> bool:
        return self.inner.exists(name)

    def size(self, name: str) -> int:
        return self.inner.size(name)

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        return self.inner.listdir(path)

    def url(self, name: str | None) -> str:
        raise NotImplementedError("encrypted files are served by the portal's views, not by URL")


def encrypted_storage() -> EncryptedStorage:
    return EncryptedStorage()
