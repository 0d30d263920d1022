"""`portal backup`: archive the database and uploaded files, with a checksum manifest."""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from portal.ops.backup import create_backup
from portal.ops.errors import OpsError
from portal.ops.sizes import human_size


class Command(BaseCommand):
    help = (
        "Write one archive (.tar or .tar.gz) holding the database, every uploaded file and a "
        "manifest of their SHA-256 checksums. Safe while the portal runs. Keys and secrets are "
        "not included: see docs/operations.md."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--output",
            type=Path,
            help="A file ending .tar, .tar.gz or .tgz, or a directory (created if needed) to get a "
            "timestamped .tar.gz "
            "(default: DATA_DIR/backups/).",
        )
        parser.add_argument(
            "--skip-files",
            action="store_true",
            help="Archive the database only (required when uploads live in S3-compatible storage).",
        )

    def handle(self, *args: Any, output: Path | None, skip_files: bool, **options: Any) -> None:
        try:
            report = create_backup(output, skip_files=skip_files, say=self.stderr.write)
        except OpsError as error:
            raise CommandError(str(error), returncode=error.exit_code) from error
        manifest = report.manifest
        rows = sum(manifest.row_counts.values())
        files = (
            f"{len(manifest.media_files):,} uploaded files ({human_size(report.media_size)})"
            if manifest.files_included
            else "no uploaded files (--skip-files)"
        )
        self.stdout.write(
            f"Database: {manifest.vendor} {manifest.server_version}, {len(manifest.row_counts)} tables, "
            f"{rows:,} rows ({human_size(report.database_size)} dump)\nFiles: {files}"
        )
        self.stdout.write(self.style.SUCCESS(f"Wrote {report.path} ({human_size(report.size)})"))
