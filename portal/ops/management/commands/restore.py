"""`portal restore ARCHIVE`: check a backup's checksums, then restore its database and files."""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from portal.ops.errors import OpsError
from portal.ops.restore import RestoreReport, restore_backup


class Command(BaseCommand):
    help = (
        "Restore a `portal backup` archive: every checksum is checked before anything changes; "
        "a portal that already holds data is replaced only with --yes. Stop the app servers and "
        "workers first. Exit codes: 3 damaged or altered archive, 4 needs --yes, 5 incompatible."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("archive", type=Path)
        parser.add_argument(
            "--yes", action="store_true", help="Replace the database and files the portal holds now."
        )
        parser.add_argument(
            "--skip-files", action="store_true", help="Restore the database only; leave uploaded files alone."
        )

    def handle(self, *args: Any, archive: Path, yes: bool, skip_files: bool, **options: Any) -> None:
        try:
            report = restore_backup(archive, overwrite=yes, skip_files=skip_files, say=self.stdout.write)
        except OpsError as error:
            raise CommandError(str(error), returncode=error.exit_code) from error
        self._print_counts(report)
        manifest = report.manifest
        self.stdout.write(
            f"Restored the {manifest.vendor} database and {report.media_files:,} uploaded files "
            f"from the backup of {manifest.created_at} (portal {manifest.portal_version})."
        )
        if report.migrated:
            self.stdout.write(f"Applied the migrations this backup predates: {', '.join(report.migrated)}")
        for problem in report.audit_problems:
            self.stderr.write(f"audit event #{problem.sequence}: {problem.message}")
        if report.audit_problems:
            raise CommandError(
                f"Restored, but the audit chain is broken: {len(report.audit_problems)} problem(s) in "
                f"{report.audit_events} events (`portal audit verify` lists them)."
            )
        self.stdout.write(f"The audit chain is intact: {report.audit_events} events verified.")
        if report.count_mismatches:
            raise CommandError(
                f"Restored, but {len(report.count_mismatches)} table(s) hold a different number of rows "
                f"than the manifest records: {', '.join(report.count_mismatches)}."
            )
        self.stdout.write(self.style.SUCCESS("Every table holds the rows the manifest records."))

    def _print_counts(self, report: RestoreReport) -> None:
        tables = sorted(set(report.manifest.row_counts) | set(report.row_counts))
        width = max((len(table) for table in tables), default=5)
        self.stdout.write(f"{'table':<{width}}  {'backup':>10}  {'restored':>10}")
        for table in tables:
            backup = report.manifest.row_counts.get(table)
            restored = report.row_counts.get(table)
            mark = "" if backup == restored else "  MISMATCH"
            self.stdout.write(f"{table:<{width}}  {_n(backup):>10}  {_n(restored):>10}{mark}")


def _n(count: int | None) -> str:
    return "-" if count is None else f"{count:,}"
