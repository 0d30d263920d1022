"""Interface clients: making, revoking and recognising their bearer tokens."""

from __future__ import annotations

import hashlib
import secrets

from django.db import transaction
from django.utils import timezone

from portal.audit.actor import Actor
from portal.audit.log import Kind, record
from portal.fhir.models import InterfaceClient


class ClientRefused(ValueError):
    """A token request that cannot be met; the message says why."""


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def do_create_interface_client(
    actor: Actor, name: str, *, rotate: bool = False
) -> tuple[InterfaceClient, str]:
    """A new client (or, with `rotate`, a new token for an existing one); the token is returned once."""
    name = name.strip()
    if not name or len(name) > 100:
        raise ClientRefused("A client name is 1 to 100 characters.")
    token = secrets.token_urlsafe(32)
    client = InterfaceClient.objects.select_for_update().filter(name=name).first()
    if client is not None and not rotate:
        raise ClientRefused(f"A client named {name!r} exists; use --rotate to give it a new token.")
    if client is None:
        client = InterfaceClient.objects.create(name=name, token_digest=token_digest(token))
    else:
        client.token_digest, client.active = token_digest(token), True
        client.save(update_fields=["token_digest", "active"])
    record(
        actor,
        "interfaces.client_token",
        kind=Kind.WRITE,
        obj=client,
        detail={"name": name, "rotated": rotate},
    )
    return client, token


@transaction.atomic
def do_revoke_interface_client(actor: Actor, name: str) -> bool:
    """Stop a client's token working at once; False if there is no such active client."""
    client = InterfaceClient.objects.select_for_update().filter(name=name.strip(), active=True).first()
    if client is None:
        return False
    client.active = False
    client.save(update_fields=["active"])
    record(actor, "interfaces.client_revoke", kind=Kind.WRITE, obj=client, detail={"name": client.name})
    return True


def authenticate(authorization: str) -> InterfaceClient | None:
    """The active client whose token the Authorization header carries, noting when it was used."""
    scheme, _space, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 200:
        return None
    client = InterfaceClient.objects.filter(token_digest=token_digest(token), active=True).first()
    if client is not None:
        InterfaceClient.objects.filter(pk=client.pk).update(last_used_at=timezone.now())
    return client
