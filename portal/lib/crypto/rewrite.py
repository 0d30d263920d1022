"""Rewrite every stored encrypted value in batches: the migrations and key rotation use it.

Works on raw column values (plaintext or `fe1:` ciphertext) with plain SQL, so the same code
serves a migration's historical models and the live ones. Each batch is its own transaction
and each row is updated only if it still holds what was read, so a run can be stopped and
started again, and a concurrent save is never overwritten with an older value.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from portal.lib.crypto.keys import decrypt_bytes, encrypt_bytes, is_encrypted, key_ring

TextChange = Callable[[str], str | None]
BytesChange = Callable[[bytes], bytes | None]
BATCH_SIZE = 500


@dataclass
class Counts:
    """How many stored values a rewrite looked at and how many it changed."""

    checked: int = 0
    rewritten: int = 0


def _batches(
    connection: BaseDatabaseWrapper, table: str, pk: str, columns: list[str], batch_size: int
) -> Iterator[list[tuple[Any, ...]]]:
    """Rows in primary-key order, one batch at a time (keyset, so each read is an index seek)."""
    quote = connection.ops.quote_name
    selected = ", ".join(quote(column) for column in [pk, *columns])
    sql = f"SELECT {selected} FROM {quote(table)} WHERE {quote(pk)} > %s ORDER BY {quote(pk)} LIMIT %s"  # noqa: S608  # nosec B608  # quoted model table and column names
    last: Any = -1
    while True:
        with connection.cursor() as cursor:
            cursor.execute(sql, [last, batch_size])
            rows = cursor.fetchall()
        if rows:
            yield rows
        if len(rows) < batch_size:
            return
        last = rows[-1][0]


def rewrite_text_columns(
    connection: BaseDatabaseWrapper,
    table: str,
    pk: str,
    columns: list[str],
    change: TextChange,
    batch_size: int = BATCH_SIZE,
) -> Counts:
    counts = Counts()
    quote = connection.ops.quote_name
    for rows in _batches(connection, table, pk, columns, batch_size):
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            for row in rows:
                for column, value in zip(columns, row[1:], strict=True):
                    if not value:
                        continue
                    counts.checked += 1
                    new = change(str(value))
                    if new is None:
                        continue
                    cursor.execute(
                        f"UPDATE {quote(table)} SET {quote(column)} = %s "  # noqa: S608  # nosec B608  # quoted model table and column names
                        f"WHERE {quote(pk)} = %s AND {quote(column)} = %s",
                        [new, row[0], value],
                    )
                    counts.rewritten += cursor.rowcount
    return counts


def rewrite_file_columns(
    connection: BaseDatabaseWrapper,
    table: str,
    pk: str,
    columns: list[str],
    change: BytesChange,
    batch_size: int = BATCH_SIZE,
) -> Counts:
    """Rewrite stored files: the new content goes to a new name, then the row points at it."""
    counts = Counts()
    quote = connection.ops.quote_name
    storage = storages["default"]
    for rows in _batches(connection, table, pk, columns, batch_size):
        for row in rows:
            for column, name in zip(columns, row[1:], strict=True):
                if not name or not storage.exists(str(name)):
                    continue
                counts.checked += 1
                with storage.open(str(name), "rb") as stream:
                    new = change(stream.read())
                if new is None:
                    continue
                new_name = storage.save(str(name), ContentFile(new))
                with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
                    cursor.execute(
                        f"UPDATE {quote(table)} SET {quote(column)} = %s "  # noqa: S608  # nosec B608  # quoted model table and column names
                        f"WHERE {quote(pk)} = %s AND {quote(column)} = %s",
                        [new_name, row[0], name],
                    )
                    updated = cursor.rowcount
                # The row changed meanwhile: keep its file, drop ours; else drop the old one.
                storage.delete(str(name) if updated else new_name)
                counts.rewritten += updated
    return counts


# The changes the migrations and `rotate_field_keys` apply.


def encrypt_plain_text(value: str) -> str | None:
    return None if is_encrypted(value) else key_ring().encrypt(value.encode()).decode("ascii")


def decrypt_to_plain_text(value: str) -> str | None:
    return key_ring().decrypt(value.encode("ascii")).decode() if is_encrypted(value) else None


def text_to_current_key(value: str) -> str | None:
    ring = key_ring()
    if ring.stored_key_id(value) == ring.current_id:
        return None
    plain = ring.decrypt(value.encode("ascii")) if is_encrypted(value) else value.encode()
    return ring.encrypt(plain).decode("ascii")


def encrypt_plain_bytes(content: bytes) -> bytes | None:
    return None if is_encrypted(content) else encrypt_bytes(content)


def decrypt_to_plain_bytes(content: bytes) -> bytes | None:
    return decrypt_bytes(content) if is_encrypted(content) else None


def bytes_to_current_key(content: bytes) -> bytes | None:
    ring = key_ring()
    head = content[: len("fe1:") + 9].decode("ascii", "replace")
    if ring.stored_key_id(head) == ring.current_id:
        return None
    return ring.encrypt(ring.decrypt(content) if is_encrypted(content) else content)
