from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from portal.audit.verify import verify_chain


class Command(BaseCommand):
    help = "Audit trail tools. `portal audit verify` checks the hash chain for tampering."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("operation", choices=["verify"])

    def handle(self, *args: Any, **options: Any) -> None:
        count, problems = verify_chain()
        for problem in problems:
            self.stderr.write(f"audit event #{problem.sequence}: {problem.message}")
        if problems:
            raise CommandError(f"The audit chain is broken: {len(problems)} problem(s) in {count} events.")
        self.stdout.write(self.style.SUCCESS(f"The audit chain is intact: {count} events verified."))
