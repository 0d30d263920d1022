"""The home page's "Billing" card: what is owed, when the latest statement is due, and "Pay now".

Shown to the patient and to proxies with the billing scope; nothing when there is no
account, or nothing is owed and no statement came recently. Two queries: the account,
then the latest statement with the payments since it.
"""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.billing import overview as reads
from portal.dashboard.cards import Card, card_provider
from portal.patients.access import PatientAccess
from portal.patients.models import Scope

# A statement issued within this many days keeps the card on the home page even when
# nothing is owed, so "your statement is paid" is seen.
RECENT_STATEMENT_DAYS = 60


@card_provider
def billing(request: HttpRequest, access: PatientAccess) -> Card | None:
    if access.is_staff_access or not access.allows(Scope.BILLING):
        return None
    account = reads.account_of(access.patient)
    if account is None:
        return None
    latest = next(iter(reads.latest_statements(account, 1)), None)
    recent = latest is not None and latest.issued_on >= timezone.localdate() - dt.timedelta(
        days=RECENT_STATEMENT_DAYS
    )
    if account.balance_cents == 0 and not recent:
        return None
    context = {
        "account": account,
        "latest": latest,
        "credit_cents": max(0, -account.balance_cents),
        "latest_due_cents": reads.still_due(latest, account.balance_cents) if latest else 0,
    }
    return Card(_("Billing"), "billing/overview/card.html", context, order=40)
