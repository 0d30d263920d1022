"""Why a backup or restore stopped, each with its own exit code (docs/operations.md)."""

from __future__ import annotations


class OpsError(Exception):
    """The operation cannot go on; the message says why and what to do."""

    exit_code = 1


class ArchiveRefused(OpsError):
    """The archive is damaged, truncated, tampered with or not a portal backup."""

    exit_code = 3


class WouldOverwrite(OpsError):
    """The target already holds data and the operator did not say `--yes`."""

    exit_code = 4


class Incompatible(OpsError):
    """A sound archive this installation cannot take: another database, a newer version, S3 storage."""

    exit_code = 5
