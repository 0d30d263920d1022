"""`portal import FILE...`: import FHIR R4 bundles, HL7 v2 ORU^R01 messages or DICOM files."""

from __future__ import annotations

import getpass
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from portal.fhir.importing import import_file


class Command(BaseCommand):
    help = (
        "Import files into patients' records: a FHIR R4 bundle (JSON), an HL7 v2 ORU^R01 message or a "
        "DICOM image. A file with any problem is rejected whole, and every problem is listed with where it is. "
        "See docs/importing.md."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("files", nargs="+", type=Path, metavar="FILE")

    def handle(self, *args: Any, **options: Any) -> None:
        rejected = 0
        submitted_by = f"command:{_user()}"
        for path in options["files"]:
            try:
                data = path.read_bytes()
            except OSError as error:
                raise CommandError(f"Cannot read {path}: {error.strerror}") from error
            report = import_file(data, path.name, submitted_by)
            if report.problems:
                rejected += 1
                self.stdout.write(self.style.ERROR(report.as_text()))
            else:
                self.stdout.write(report.as_text())
        if rejected:
            raise CommandError(
                f"{rejected} of {len(options['files'])} file(s) rejected; nothing from them was saved."
            )


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
