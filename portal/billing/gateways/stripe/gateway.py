"""Stripe as the card processor, through the official library (`stripe.StripeClient`).

A payment is one PaymentIntent, created and confirmed in one request with our
idempotency key as Stripe's `Idempotency-Key` header (and in its metadata, so a key can
be found again by search when we never heard the answer). The card comes from Stripe.js
in the payer's browser as a PaymentMethod id (`pm_...`); card numbers never reach us.

Stripe's answers map onto the portal's: `succeeded` is paid; `requires_action` sends the
payer to their bank's check (`next_action.redirect_to_url`); a card error or
`requires_payment_method` is a decline with its code; `processing`, a timeout, a 5xx or
an idempotency conflict leave the payment pending (`GatewayUnavailable`), because
whether money moved is unknown until the PaymentIntent is read again.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import stripe
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from portal.billing.gateways.base import (
    BrowserForm,
    ChargeResult,
    ChargeStatus,
    Gateway,
    GatewayError,
    GatewayUnavailable,
    SavedMethod,
)

if TYPE_CHECKING:
    from stripe.params import PaymentIntentCreateParams

# Connect and read timeouts: a charge can take Stripe a while; a timeout leaves it pending.
TIMEOUT_SECONDS = (10.0, 40.0)
# Retries of one request by the library reuse its idempotency key, so they cannot charge twice.
NETWORK_RETRIES = 2
# The PaymentIntent's card details come with it, so one request tells brand, last four and funding.
EXPAND = ["latest_charge", "payment_method"]
BRANDS = {
    "visa": "Visa",
    "mastercard": "Mastercard",
    "amex": "American Express",
    "discover": "Discover",
    "diners": "Diners Club",
    "jcb": "JCB",
    "unionpay": "UnionPay",
}
FUNDING = {"credit": "credit", "debit": "debit"}
# Stripe's codes that mean something else in the portal's words (payments.DECLINE_WORDS).
CODES = {
    "generic_decline": "card_declined",
    "payment_intent_authentication_failure": "authentication_failed",
}


@functools.cache
def _default_http_client() -> stripe.HTTPClient:
    """One HTTP client per process: it keeps a connection pool per thread."""
    return stripe.RequestsClient(timeout=TIMEOUT_SECONDS)


class StripeGateway(Gateway):
    name = "stripe"

    def __init__(
        self,
        *,
        secret_key: str | None = None,
        http_client: stripe.HTTPClient | None = None,
        max_network_retries: int = NETWORK_RETRIES,
    ) -> None:
        key = settings.STRIPE_SECRET_KEY if secret_key is None else secret_key
        if not key:
            raise ImproperlyConfigured("PORTAL_PAYMENT_GATEWAY is stripe but STRIPE_SECRET_KEY is not set")
        self.client = stripe.StripeClient(
            key,
            http_client=http_client or _default_http_client(),
            max_network_retries=max_network_retries,
        )

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
        params: PaymentIntentCreateParams = {
            "amount": amount_cents,
            "currency": "usd",
            "confirm": True,
            "payment_method": saved.method_ref if saved else token,
            "allowed_payment_method_types": ["card"],
            "metadata": {"idempotency_key": idempotency_key},
            "expand": EXPAND,
        }
        if description:
            params["description"] = description
        if saved is not None:
            params["customer"] = saved.customer_ref
        elif save_for_later:
            # The customer is made under a key derived from ours, so a retry finds the same one.
            params["customer"] = customer_ref or self._new_customer(f"{idempotency_key}-customer")
            params["setup_future_usage"] = "off_session"
        if off_session:
            params["off_session"] = True
        elif return_url:
            params["return_url"] = return_url
        try:
            intent = self.client.v1.payment_intents.create(params, {"idempotency_key": idempotency_key})
        except stripe.CardError as declined:
            return _declined(declined)
        except stripe.StripeError as error:
            raise _translated(error) from error
        return _result(intent)

    def retrieve(self, reference: str) -> ChargeResult:
        try:
            intent = self.client.v1.payment_intents.retrieve(reference, {"expand": EXPAND})
        except stripe.StripeError as error:
            raise _translated(error) from error
        return _result(intent)

    def cancel(self, reference: str) -> ChargeResult:
        try:
            intent = self.client.v1.payment_intents.cancel(reference, {"expand": EXPAND})
        except stripe.InvalidRequestError:
            # Not cancellable any more: the payer finished the bank check meanwhile (or it failed).
            return self.retrieve(reference)
        except stripe.StripeError as error:
            raise _translated(error) from error
        return _result(intent)

    def lookup(self, idempotency_key: str) -> ChargeResult | None:
        # Search is eventually consistent (new PaymentIntents appear within about a minute):
        # the worker only asks about payments pending for several minutes.
        if "'" in idempotency_key or "\\" in idempotency_key:
            raise GatewayError("an idempotency key cannot contain quotes")
        try:
            found = self.client.v1.payment_intents.search(
                {
                    "query": f"metadata['idempotency_key']:'{idempotency_key}'",
                    "expand": [f"data.{field}" for field in EXPAND],
                }
            )
        except stripe.StripeError as error:
            raise _translated(error) from error
        return _result(found.data[0]) if found.data else None

    def refund(self, *, reference: str, amount_cents: int, idempotency_key: str) -> str:
        try:
            made = self.client.v1.refunds.create(
                {
                    "payment_intent": reference,
                    "amount": amount_cents,
                    "metadata": {"idempotency_key": idempotency_key},
                },
                {"idempotency_key": idempotency_key},
            )
        except stripe.StripeError as error:
            raise _translated(error) from error
        if made.status in ("failed", "canceled"):
            raise GatewayError(f"Stripe could not make the refund ({made.failure_reason or made.status})")
        return made.id

    def save_card(self, *, token: str, customer_ref: str = "") -> SavedMethod:
        try:
            customer = customer_ref or self._new_customer()
            method = self.client.v1.payment_methods.attach(token, {"customer": customer})
        except stripe.CardError as declined:
            raise GatewayError(declined.user_message or "the card was declined") from declined
        except stripe.StripeError as error:
            raise _translated(error) from error
        saved = _saved_method(method, customer)
        if saved is None:
            raise GatewayError("the payment method is not a card")
        return saved

    def forget_card(self, method_ref: str) -> None:
        try:
            self.client.v1.payment_methods.detach(method_ref)
        except stripe.InvalidRequestError:
            return  # already detached (or never attached): nothing left to forget
        except stripe.StripeError as error:
            raise _translated(error) from error

    def browser_form(self, request: Any) -> BrowserForm:
        return BrowserForm(
            template="billing/gateways/stripe_card.html",
            context={"publishable_key": settings.STRIPE_PUBLISHABLE_KEY},
            script_origins=("https://js.stripe.com",),
            frame_origins=("https://js.stripe.com", "https://hooks.stripe.com"),
            connect_origins=("https://api.stripe.com",),
        )

    def _new_customer(self, idempotency_key: str = "") -> str:
        options: stripe.RequestOptions = {"idempotency_key": idempotency_key} if idempotency_key else {}
        try:
            return self.client.v1.customers.create({"metadata": {"source": "patient-portal"}}, options).id
        except stripe.StripeError as error:
            raise _translated(error) from error


def _translated(error: stripe.StripeError) -> Exception:
    """A Stripe error as the portal's: unknown outcome (ask again later) or a refusal."""
    if isinstance(error, stripe.APIConnectionError | stripe.APIError | stripe.RateLimitError):
        return GatewayUnavailable(str(error))
    if isinstance(error, stripe.IdempotencyError):
        # The key reached Stripe before with other parameters: that earlier request may
        # have charged, so the payment stays pending until the worker looks the key up.
        return GatewayUnavailable(str(error))
    return GatewayError(error.user_message or str(error))


def _declined(declined: stripe.CardError) -> ChargeResult:
    """A card error from confirming: Stripe keeps the PaymentIntent, waiting for another card."""
    detail = declined.error
    code = (detail.decline_code if detail else None) or declined.code or "card_declined"
    intent = detail.payment_intent if detail else None
    method = detail.payment_method if detail else None
    card = method.card if method is not None else None
    return ChargeResult(
        status=ChargeStatus.DECLINED,
        reference=intent.id if intent is not None else "",
        brand=BRANDS.get(card.brand, card.brand.title()) if card else "",
        last4=card.last4 if card else "",
        funding=FUNDING.get(card.funding, "unknown") if card else "unknown",
        decline_code=CODES.get(code, code),
        message=declined.user_message or "",
    )


def _result(intent: stripe.PaymentIntent) -> ChargeResult:
    brand, last4, funding = _card_of(intent)
    common: dict[str, Any] = {"reference": intent.id, "brand": brand, "last4": last4, "funding": funding}
    if intent.status == "succeeded":
        return ChargeResult(status=ChargeStatus.SUCCEEDED, saved_method=_kept_for_later(intent), **common)
    if intent.status == "requires_action":
        action = intent.next_action
        redirect = action.redirect_to_url if action is not None else None
        url = (redirect.url if redirect is not None else None) or ""
        return ChargeResult(status=ChargeStatus.REQUIRES_ACTION, next_action_url=url, **common)
    if intent.status == "requires_payment_method":
        error = intent.last_payment_error
        code = ((error.decline_code or error.code) if error is not None else None) or "card_declined"
        message = (error.message if error is not None else None) or ""
        return ChargeResult(
            status=ChargeStatus.DECLINED, decline_code=CODES.get(code, code), message=message, **common
        )
    if intent.status == "canceled":
        return ChargeResult(status=ChargeStatus.FAILED, decline_code="canceled", **common)
    # processing (the bank has not answered yet), or a state we never ask for: not final.
    raise GatewayUnavailable(f"payment intent {intent.id} is {intent.status}")


def _card_of(intent: stripe.PaymentIntent) -> tuple[str, str, str]:
    """Brand, last four and funding: from the charge when there is one, else the payment method."""
    charge = intent.latest_charge
    details = charge.payment_method_details if isinstance(charge, stripe.Charge) else None
    card: Any = details.card if details is not None else None
    if card is None and isinstance(intent.payment_method, stripe.PaymentMethod):
        card = intent.payment_method.card
    if card is None:
        return "", "", "unknown"
    return (
        BRANDS.get(card.brand, str(card.brand).title()),
        card.last4 or "",
        FUNDING.get(card.funding, "unknown"),
    )


def _kept_for_later(intent: stripe.PaymentIntent) -> SavedMethod | None:
    """The card as saved, when the payer asked to keep it (`setup_future_usage`)."""
    if intent.setup_future_usage != "off_session" or not intent.customer:
        return None
    method = intent.payment_method
    customer = intent.customer if isinstance(intent.customer, str) else intent.customer.id
    return _saved_method(method, customer) if isinstance(method, stripe.PaymentMethod) else None


def _saved_method(method: stripe.PaymentMethod, customer: str) -> SavedMethod | None:
    card = method.card
    if card is None:
        return None
    return SavedMethod(
        method_ref=method.id,
        customer_ref=customer,
        brand=BRANDS.get(card.brand, card.brand.title()),
        last4=card.last4,
        exp_month=card.exp_month,
        exp_year=card.exp_year,
        funding=FUNDING.get(card.funding, "unknown"),
    )
