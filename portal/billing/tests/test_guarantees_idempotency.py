"""A payment is charged once per key, whatever happens around it.

300 payments across 30 accounts, each key sent two to four times at once from a pool of
threads (each with its own database connection), while the gateway misbehaves:

- it does not answer before charging (the payment stays pending; a retry completes it),
- the process "dies" right after the gateway charged and before we recorded it (an
  exception out of `do_pay`; a retry with the same key finds the one charge),
- some keys are abandoned in either state, and `reconcile_pending` settles them.

Then: one Payment per key and every try saw it, one sandbox charge per key that reached
the gateway, one ledger payment per succeeded Payment and none for the rest, every
balance equal to its ledger and to what was billed less what was paid, and the same key
with another amount refused.

Runs on PostgreSQL against the test database, and on SQLite against a file copy of it
(the in-memory test database cannot be shared by connections in several threads).
"""

from __future__ import annotations

import datetime as dt
import random
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.db import connections
from django.db.backends.sqlite3.base import DatabaseWrapper as SQLiteWrapper
from django.db.utils import load_backend

from portal.audit.actor import Actor
from portal.billing import ledger, payments
from portal.billing.gateways.base import ChargeResult, GatewayUnavailable
from portal.billing.gateways.sandbox.gateway import SandboxGateway
from portal.billing.models import Account, LedgerEntry, Payment, SandboxCharge
from portal.billing.tests.support import DECLINED, NO_FUNDS, VISA, access_for, bill, card_token, new_key
from portal.patients.access import PatientAccess
from portal.test import World, make_patient, make_user

pytestmark = pytest.mark.django_db(transaction=True)

ACCOUNTS = 30
KEYS_EACH = 10
WORKERS = 6
BILLED = 1_000_00
TRIES = 6


class ProcessKilled(Exception):
    """Stands for the process dying between the gateway's charge and our record of it."""


@dataclass
class Plan:
    """One payment attempt (one key) and how the gateway treats it."""

    key: str
    account_id: int
    access: PatientAccess
    request: payments.PaymentRequest
    expected: str
    # "" (answers), "unavailable" (no answer before charging, the first `faults` times),
    # "killed" (dies after charging, the first time), "abandoned" (never answers, never
    # charged), "abandoned_charged" (always dies after charging, and nobody retries).
    fault: str
    copies: int
    faults: int = 0

    @property
    def abandoned(self) -> bool:
        return self.fault.startswith("abandoned")


class FlakyGateway(SandboxGateway):
    """The sandbox, with the failures each key's plan asks for."""

    def __init__(self, plans: dict[str, Plan]) -> None:
        self.plans = plans
        self.calls: Counter[str] = Counter()
        self.in_flight: Counter[str] = Counter()
        # How often a key was asked for while another try with it was still at the gateway.
        self.overlaps = 0
        self.lock = threading.Lock()

    def charge(self, **request: Any) -> ChargeResult:
        plan = self.plans[request["idempotency_key"]]
        with self.lock:
            self.calls[plan.key] += 1
            call = self.calls[plan.key]
            self.overlaps += self.in_flight[plan.key] > 0
            self.in_flight[plan.key] += 1
        try:
            if plan.fault == "abandoned" or (plan.fault == "unavailable" and call <= plan.faults):
                raise GatewayUnavailable("no answer (test)")
            result = super().charge(**request)
            if plan.fault == "abandoned_charged" or (plan.fault == "killed" and call == 1):
                raise ProcessKilled(plan.key)
            return result
        finally:
            with self.lock:
                self.in_flight[plan.key] -= 1


@contextmanager
def shared_database(tmp_path: Path) -> Iterator[None]:
    """Threads' connections reach the test's data: as it is on PostgreSQL, or on a file
    copy of the in-memory SQLite database, which this thread also uses until the end."""
    in_memory, original = connections["default"], connections.settings["default"]
    if not isinstance(in_memory, SQLiteWrapper) or not in_memory.is_in_memory_db():
        yield
        return
    path = tmp_path / "shared.sqlite3"
    in_memory.ensure_connection()
    copy = sqlite3.connect(path)
    in_memory.connection.backup(copy)
    copy.close()
    on_file = {**original, "NAME": str(path)}
    connections.settings["default"] = on_file
    connections["default"] = load_backend(on_file["ENGINE"]).DatabaseWrapper(on_file, "default")
    try:
        yield
    finally:
        connections["default"].close()
        connections["default"] = in_memory
        connections.settings["default"] = original


def make_plans(world: World) -> dict[str, Plan]:
    chance = random.Random(7)
    plans: dict[str, Plan] = {}
    for number in range(ACCOUNTS):
        user = make_user(f"payer{number}")
        patient = make_patient(f"3{number:07d}", f"Payer{number}", "Stress", world.campus, account=user)
        bill(patient, BILLED)
        account = ledger.account_for(patient)
        access = access_for(user, patient)
        for _ in range(KEYS_EACH):
            card = chance.choices([VISA, DECLINED, NO_FUNDS], weights=[8, 1, 1])[0]
            fault = chance.choices(
                ["", "unavailable", "killed", "abandoned", "abandoned_charged"], weights=[10, 4, 4, 1, 1]
            )[0]
            key = new_key()
            plans[key] = Plan(
                key=key,
                account_id=account.pk,
                access=access,
                request=payments.PaymentRequest(
                    amount_cents=chance.randint(1_00, BILLED // KEYS_EACH),
                    idempotency_key=key,
                    token=card_token(card),
                ),
                expected=_expected(card, fault),
                fault=fault,
                copies=chance.randint(2, 4),
                faults=chance.randint(1, 3),
            )
    return plans


def _expected(card: str, fault: str) -> str:
    if fault == "abandoned":
        return Payment.Status.FAILED  # never charged: the worker says so
    return Payment.Status.SUCCEEDED if card == VISA else Payment.Status.DECLINED


def submit(gateway: FlakyGateway, plan: Plan) -> list[int]:
    """One browser tab's tries with the key: again while pending or killed, as a retry would."""
    seen = []
    try:
        for _ in range(TRIES):
            try:
                payment = payments.do_pay(Actor.system(), plan.access, plan.request, gateway=gateway)
            except ProcessKilled:
                if plan.abandoned:
                    break
                continue
            seen.append(payment.pk)
            if payment.is_final or plan.abandoned:
                break
        return seen
    finally:
        connections.close_all()


@pytest.mark.long
def test_hundreds_of_payments_retried_at_once_charge_once_each(world: World, tmp_path: Path) -> None:
    plans = make_plans(world)
    with shared_database(tmp_path):
        gateway = FlakyGateway(plans)
        tries = [plan for plan in plans.values() for _copy in range(plan.copies)]
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            seen = list(pool.map(lambda plan: (plan.key, submit(gateway, plan)), tries))

        # The tries really did meet at the gateway (hundreds of times in practice).
        assert gateway.overlaps > 0
        abandoned = [plan for plan in plans.values() if plan.abandoned]
        assert Payment.objects.filter(status=Payment.Status.PENDING).count() == len(abandoned)
        assert payments.reconcile_pending(older_than=dt.timedelta(0)) == len(abandoned)

        check_each_key(plans, seen)
        check_each_account(plans)
        check_a_reused_key_is_refused(plans, gateway)


def check_each_key(plans: dict[str, Plan], seen: list[tuple[str, list[int]]]) -> None:
    payment_ids: dict[str, set[int]] = {key: set() for key in plans}
    for key, ids in seen:
        payment_ids[key].update(ids)
    found = {payment.idempotency_key: payment for payment in Payment.objects.all()}
    charges = Counter(SandboxCharge.objects.values_list("idempotency_key", flat=True))
    charge_status = dict(SandboxCharge.objects.values_list("idempotency_key", "status"))
    posted = Counter(
        LedgerEntry.objects.filter(kind=LedgerEntry.Kind.PAYMENT).values_list("payment_id", flat=True)
    )
    assert set(found) == set(plans)
    for key, plan in plans.items():
        payment = found[key]
        assert payment_ids[key] <= {payment.pk}, f"{key}: tries saw payments {payment_ids[key]}"
        assert payment.status == plan.expected, f"{key} ({plan.fault}): {payment.status}, not {plan.expected}"
        assert charges[key] == (0 if plan.fault == "abandoned" else 1), f"{key} charged {charges[key]} times"
        if charges[key]:
            assert charge_status[key] == payment.status, (
                f"{key}: charge {charge_status[key]}, payment {payment.status}"
            )
        assert posted[payment.pk] == (1 if payment.status == Payment.Status.SUCCEEDED else 0), key


def check_each_account(plans: dict[str, Plan]) -> None:
    paid: Counter[int] = Counter()
    for plan in plans.values():
        if plan.expected == Payment.Status.SUCCEEDED:
            paid[plan.account_id] += plan.request.amount_cents
    for account in Account.objects.filter(pk__in={plan.account_id for plan in plans.values()}):
        assert account.balance_cents == ledger.derived_balance(account) == BILLED - paid[account.pk]


def check_a_reused_key_is_refused(plans: dict[str, Plan], gateway: FlakyGateway) -> None:
    charges, entries = SandboxCharge.objects.count(), LedgerEntry.objects.count()
    for plan in list(plans.values())[:10]:
        other = payments.PaymentRequest(
            amount_cents=plan.request.amount_cents + 1, idempotency_key=plan.key, token=plan.request.token
        )
        with pytest.raises(payments.PaymentRefused):
            payments.do_pay(Actor.system(), plan.access, other, gateway=gateway)
    assert (SandboxCharge.objects.count(), LedgerEntry.objects.count()) == (charges, entries)
