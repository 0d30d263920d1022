"""`portal interface_token NAME`: make an interface client and print its token once; `--revoke NAME` ends it."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from portal.audit.actor import Actor
from portal.fhir.clients import ClientRefused, do_create_interface_client, do_revoke_interface_client


class Command(BaseCommand):
    help = (
        "Make a bearer token for an interface engine posting to /interfaces/import. The token is printed "
        "once and only its digest is kept. --rotate replaces an existing client's token; --revoke stops it."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("name", help="who the client is, e.g. 'lab-engine'")
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--rotate", action="store_true", help="give an existing client a new token")
        group.add_argument("--revoke", action="store_true", help="stop the client's token working")

    def handle(self, *args: Any, **options: Any) -> None:
        name = options["name"]
        if options["revoke"]:
            if not do_revoke_interface_client(Actor.system(), name):
                raise CommandError(f"No active interface client named {name!r}.")
            self.stdout.write(f"Revoked the token of {name}.")
            return
        try:
            _client, token = do_create_interface_client(Actor.system(), name, rotate=options["rotate"])
        except ClientRefused as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"Token for {name} (shown once; keep it in the interface engine's secret store):")
        self.stdout.write(token)
