"""The dashboard's cards: each capability contributes its own.

An app registers a provider in its `dashboard_cards.py`; a provider gets the request and
the patient being viewed and returns a `Card`, or None when it has nothing to show
(the dashboard never shows an empty placeholder card). Each provider must run a fixed
number of queries, whatever the patient's history.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest
from django.utils.module_loading import autodiscover_modules

from portal.patients.access import PatientAccess


@dataclass(frozen=True)
class Card:
    """One card: its heading, the template that draws it, and that template's context."""

    title: str
    template: str
    context: dict[str, Any] = field(default_factory=dict)
    order: int = 100


Provider = Callable[[HttpRequest, PatientAccess], Card | None]
_providers: list[Provider] = []
_discovered = False


def card_provider(provider: Provider) -> Provider:
    _providers.append(provider)
    return provider


def cards_for(request: HttpRequest, access: PatientAccess) -> list[Card]:
    global _discovered
    if not _discovered:
        autodiscover_modules("dashboard_cards")
        _discovered = True
    cards = (provider(request, access) for provider in _providers)
    return sorted((card for card in cards if card is not None), key=lambda card: card.order)
