"""What the portal needs from a card processor, whichever one the clinic uses.

A gateway charges a token (made by its own form in the browser) or a saved card, named
by the caller's idempotency key: asking again with the same key must return the same
charge, never a second one. That, plus our own `Payment` row per key, is how a payment
survives double clicks, reloads, network retries and a process killed mid-way.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any


class ChargeStatus:
    SUCCEEDED = "succeeded"
    DECLINED = "declined"
    REQUIRES_ACTION = "requires_action"
    FAILED = "failed"


@dataclass(frozen=True)
class SavedMethod:
    """A reusable card as the gateway knows it."""

    method_ref: str
    customer_ref: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    funding: str


@dataclass(frozen=True)
class ChargeResult:
    """The gateway's answer about one charge. `message` is in plain words for the payer."""

    status: str
    reference: str = ""
    brand: str = ""
    last4: str = ""
    funding: str = "unknown"
    decline_code: str = ""
    message: str = ""
    # Where the payer must go to finish (their bank's check), for requires_action.
    next_action_url: str = ""
    # The card, kept for later, when the charge asked to save it.
    saved_method: SavedMethod | None = None


@dataclass(frozen=True)
class BrowserForm:
    """What the pay page needs to draw the gateway's card form: its template and context,
    and any origins the Content-Security-Policy must allow for it."""

    template: str
    context: dict[str, Any] = field(default_factory=dict)
    script_origins: tuple[str, ...] = ()
    frame_origins: tuple[str, ...] = ()
    connect_origins: tuple[str, ...] = ()


class GatewayUnavailable(Exception):
    """The gateway did not answer: whether it charged is unknown, so ask again with the same key."""


class GatewayError(Exception):
    """The gateway refused the request itself (bad token, bad configuration)."""


class Gateway(ABC):
    name: str

    @abstractmethod
    def charge(
        self,
        *,
        amount_cents: int,
        idempotency_key: str,
        token: str = "",
        saved: SavedMethod | None = None,
        description: str = "",
        return_url: str = "",
        off_session: bool = False,
        save_for_later: bool = False,
        customer_ref: str = "",
    ) -> ChargeResult:
        """Charge a browser token or a saved card, once per key. May raise GatewayUnavailable.

        With `save_for_later` the card is kept for later payments (under `customer_ref`,
        or a new customer) and the result carries it as `saved_method`.
        """

    @abstractmethod
    def retrieve(self, reference: str) -> ChargeResult:
        """The charge's current state (after the payer's bank check, for instance)."""

    @abstractmethod
    def cancel(self, reference: str) -> ChargeResult:
        """Call off a charge still waiting for the payer's bank check; returns how it ended
        (a charge the payer finished meanwhile comes back succeeded)."""

    @abstractmethod
    def lookup(self, idempotency_key: str) -> ChargeResult | None:
        """The charge made with this key, or None if the gateway never made one."""

    @abstractmethod
    def refund(self, *, reference: str, amount_cents: int, idempotency_key: str) -> str:
        """Give back part or all of a charge, once per key; returns the refund's reference."""

    @abstractmethod
    def save_card(self, *, token: str, customer_ref: str = "") -> SavedMethod:
        """Turn a browser token into a reusable card (for later payments and plans)."""

    @abstractmethod
    def forget_card(self, method_ref: str) -> None:
        """Have the gateway drop a saved card, so it can never be charged again."""

    @abstractmethod
    def browser_form(self, request: Any) -> BrowserForm:
        """How the pay page draws this gateway's card form."""
