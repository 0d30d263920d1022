"""Bills for the demo: Jamie's insurance, claims and statements, and the Brooks family's accounts.

demo-patient (Jamie) has a verified insurance plan with its benefits ($1,500 deductible
with $900 met, 20% coinsurance, $30 copay, $4,000 out-of-pocket limit) and a year of
visits billed to it: claims paid, one partly paid (the deductible), one denied (no
referral on file for physical therapy). The older of two statements was paid by card
through the sandbox; the latest, a few hundred dollars, is due in about three weeks and
holds the $85 knee X-ray Jamie has written to the billing office about. demo-parent
(Taylor) is the guarantor of Mia's account, which has a statement due, and pays for
Walter, who owes a little after Medicare. Nobody else has a bill.

The visits are the ones in the demo's records and appointments where those have them
(Jamie's yearly check-up, flu shot, cardiology consultation, palpitations visit and blood
pressure follow-up; Mia's well-child visit and flu shot; Walter's cardiology follow-up),
on the days they happened; the X-ray and the physical therapy visit are made up here.

Money goes through the billing code, never around it: each service through
`statements.add_service_line` (its charge, the insurer's payment and adjustment on the
ledger), statements through `statements.issue_statement`, the card payment through
`payments.do_pay` and the sandbox gateway, so every balance is the sum of its ledger.
Afterwards the rows, and the notifications and emails they sent, are dated back to when
they happened, as `demo_messages` does. An account with services already billed is left
alone: a re-run adds only what is missing and never undoes what demo users have done.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TypeVar
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import models, transaction
from django.db.models import Max
from django.utils import timezone

from portal.accounts.models import User
from portal.audit.actor import Actor
from portal.billing import ledger, payments, statements
from portal.billing.gateways.sandbox.cards import tokenise
from portal.billing.models import (
    Account,
    Claim,
    CoverageBenefits,
    LedgerEntry,
    Payment,
    SandboxCharge,
    ServiceLine,
    Statement,
)
from portal.lib.seeding.billing_prices import PRICES, seed_price_list
from portal.lib.seeding.demo_users import (
    DEMO_CHILD_NUMBER,
    DEMO_DEPENDENT_NUMBER,
    DEMO_PARENT_NUMBER,
    DEMO_PATIENT_NUMBER,
    DemoRefused,
)
from portal.notifications.models import Notification, OutboxMessage
from portal.organization.models import Campus
from portal.patients.access import PatientAccess, decide
from portal.patients.models import Coverage, Patient
from portal.records.models import Encounter, Immunization
from portal.scheduling.models import Appointment

T = TypeVar("T")
ROCHESTER = ZoneInfo("America/Chicago")
DAY = dt.timedelta(days=1)
READ_AFTER = dt.timedelta(hours=3)
Status = Claim.Status
Entry = LedgerEntry.Kind
# The latest statement is due this many days from today (statements are due
# PORTAL_STATEMENT_DUE_DAYS after they are issued).
JAMIE_DUE_IN_DAYS = 21
# The sandbox's Visa that always succeeds (gateways/sandbox/cards.py).
DEMO_CARD = "4242424242424242"
NO_REFERRAL = (
    "Not covered without a referral: the plan needs a referral from your primary care "
    "clinician on file before physical therapy. Ask your care team for one and we will "
    "send the claim again."
)


@dataclass(frozen=True)
class Line:
    """A billed service: its code (priced from the demo price list) and what the insurer did."""

    code: str
    insurance_paid_cents: int = 0
    adjustment_cents: int = 0


@dataclass(frozen=True)
class Visit:
    """One visit's services and their claim.

    It happened `days_ago`, unless the patient's record (a visit whose reason has
    `encounter`, a vaccine named `vaccine`) or a demo appointment (`appointment`, its
    source id) says when, within `window` (days ago, nearest and furthest).
    """

    label: str
    days_ago: int
    campus: str
    lines: tuple[Line, ...]
    window: tuple[int, int] = (0, 0)
    status: str = Status.PAID
    denial_reason: str = ""
    encounter: str = ""
    department: str = ""
    vaccine: str = ""
    appointment: str = ""
    # Insurers decide about three weeks after the visit, unless it says otherwise.
    decided_days_ago: int | None = None


@dataclass(frozen=True)
class Period:
    """Visits billed on one statement, issued `issued_days_ago`; paid in full by card `paid_days_ago`."""

    visits: tuple[Visit, ...]
    issued_days_ago: int
    paid_days_ago: int | None = None


@dataclass(frozen=True)
class Plan:
    """An insurance plan as the patient gave it to the clinic."""

    payer_name: str
    plan_name: str
    member_id: str
    group_number: str
    subscriber_relationship: str = Coverage.Subscriber.SELF


ROCHESTER_CAMPUS, CHILDRENS_CAMPUS = "rochester", "childrens"
EARLIER = (110, 420)  # Jamie's visits on the older statement, in days ago


def _jamie_periods() -> tuple[Period, ...]:
    latest_issued = max(settings.PORTAL_STATEMENT_DUE_DAYS - JAMIE_DUE_IN_DAYS, 0)
    recent = (latest_issued + 12, 99)  # between the two statements
    older = Period(
        (
            Visit(
                "Yearly check-up, Family Medicine", 233, ROCHESTER_CAMPUS,
                (Line("99396", 168_00, 127_00), Line("36415", 9_00, 13_00), Line("80053", 31_50, 60_50),
                 Line("80061", 24_60, 61_40), Line("85025", 18_20, 35_80)),
                window=EARLIER, encounter="Yearly check-up",
            ),
            Visit(
                "Flu vaccine, Family Medicine", 190, ROCHESTER_CAMPUS,
                (Line("90686", 28_00, 18_00), Line("90471", 21_00, 11_00)), window=EARLIER, vaccine="Influenza",
            ),
            # The deductible: the plan paid its 80% of the $48 above the $180 still to meet.
            Visit(
                "New patient consultation, Cardiology", 160, ROCHESTER_CAMPUS, (Line("99204", 38_40, 112_00),),
                window=EARLIER, status=Status.PARTIAL, appointment="demo:jamie:p4",
            ),
        ),
        issued_days_ago=100,
        paid_days_ago=93,
    )  # fmt: skip
    latest = Period(
        (
            Visit(
                "Physical therapy: knee, Orthopedics", 92, ROCHESTER_CAMPUS, (Line("97161"),),
                status=Status.DENIED, denial_reason=NO_REFERRAL,
            ),
            Visit(
                "Heart racing (palpitations), Cardiology", 75, ROCHESTER_CAMPUS,
                (Line("99214", 128_00, 82_00), Line("93000", 46_40, 60_00)), window=recent,
                encounter="palpitations",
            ),
            Visit("Knee X-ray, Radiology", 55, ROCHESTER_CAMPUS, (Line("73562", 52_00, 88_00),)),
            Visit(
                "Follow-up visit: blood pressure, Family Medicine", 40, ROCHESTER_CAMPUS,
                (Line("99213", 78_00, 57_00),), window=recent, appointment="demo:jamie:p1",
            ),
        ),
        issued_days_ago=latest_issued,
    )  # fmt: skip
    return (older, latest)


MIA_PERIODS = (
    Period(
        (
            # The plan took months over the breathing test, then put it towards the deductible.
            Visit(
                "Well-child visit, Pediatrics", 240, CHILDRENS_CAMPUS,
                (Line("99393", 142_00, 73_00), Line("94010", 0, 40_00)), window=(20, 400),
                status=Status.PARTIAL, encounter="Well-child", decided_days_ago=10,
            ),
            Visit(
                "Flu vaccine, Pediatrics", 55, CHILDRENS_CAMPUS,
                (Line("90686", 28_00, 18_00), Line("90471", 21_00, 11_00)), window=(20, 200),
                vaccine="Influenza",
            ),
        ),
        issued_days_ago=6,
    ),
)  # fmt: skip

WALTER_PERIODS = (
    Period(
        (
            # Medicare pays 80% of its allowed $164 for the visit and all of the lab test.
            Visit(
                "Follow-up visit, Cardiology", 60, ROCHESTER_CAMPUS,
                (Line("99214", 131_20, 76_00), Line("85610", 16_00, 22_00)), window=(20, 200),
                encounter="Follow-up", department="cardiology",
            ),
        ),
        issued_days_ago=12,
    ),
)  # fmt: skip

NORTH_STAR = Plan("North Star Health", "PPO Choice 1500", "NSH448120735", "GRP-40127")
MEDICARE = Plan("Medicare", "Medicare Part B", "1EG4-TE5-MK73", "")


@dataclass(frozen=True)
class Cast:
    """The patients with bills, how their payer acts for them, and the billing office clerk."""

    jamie: PatientAccess
    mia: PatientAccess  # demo-parent acting for Mia
    walter: PatientAccess  # demo-parent acting for Walter
    taylor: Patient  # demo-parent's own record: Mia's guarantor
    clerk: User  # demo-billing, who issued the statements


def seed_demo_billing(now: dt.datetime | None = None) -> int:
    """Give the demo's billing accounts their history; returns how many accounts got one.

    The demo sign-ins must exist (`demo_users.create_demo_users`); visits are dated from
    their records and appointments where `seed_demo_appointments` has made them.
    """
    if settings.PRODUCTION:
        raise DemoRefused("Demo bills are never created in production.")
    now = now or timezone.now()
    with transaction.atomic():
        seed_price_list()
        cast = _cast()
        if cast is None:
            return 0
        clock = Clock(now)
        billed = _bill(cast.jamie, clock, cast.clerk, NORTH_STAR, _jamie_periods(), benefits=True)
        billed += _bill(
            cast.mia, clock, cast.clerk,
            replace(NORTH_STAR, subscriber_relationship=Coverage.Subscriber.PARENT),
            MIA_PERIODS, guarantor=cast.taylor, subscriber=cast.taylor.full_name,
        )  # fmt: skip
        billed += _bill(cast.walter, clock, cast.clerk, MEDICARE, WALTER_PERIODS)
    return billed


def _cast() -> Cast | None:
    numbers = (DEMO_PATIENT_NUMBER, DEMO_PARENT_NUMBER, DEMO_CHILD_NUMBER, DEMO_DEPENDENT_NUMBER)
    patients = {
        patient.clinic_number: patient for patient in Patient.objects.filter(clinic_number__in=numbers)
    }
    users = {
        user.username: user
        for user in User.objects.filter(username__in=("demo-patient", "demo-parent", "demo-billing"))
    }
    if len(patients) < len(numbers) or len(users) < 3:
        return None
    jamie = decide(users["demo-patient"], patients[DEMO_PATIENT_NUMBER])
    mia = decide(users["demo-parent"], patients[DEMO_CHILD_NUMBER])
    walter = decide(users["demo-parent"], patients[DEMO_DEPENDENT_NUMBER])
    if jamie is None or mia is None or walter is None:
        return None
    return Cast(jamie, mia, walter, patients[DEMO_PARENT_NUMBER], users["demo-billing"])


# Dating what the billing code wrote ------------------------------------------------------------


@dataclass(frozen=True)
class Clock:
    """When things happened, in Rochester, where the billing office works."""

    now: dt.datetime
    today: dt.date = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "today", self.now.astimezone(ROCHESTER).date())

    def day(self, days_ago: int) -> dt.date:
        return self.today - days_ago * DAY

    def at(self, day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
        """A time of day on `day` in Rochester, never later than a few minutes ago."""
        moment = dt.datetime.combine(day, dt.time(hour, minute), tzinfo=ROCHESTER)
        return min(moment, self.now - dt.timedelta(minutes=10))

    def telling(self, moment: dt.datetime, action: Callable[[], T], *, read: bool) -> T:
        """Run `action` and date the notifications and emails it sent to `moment` (sent then;
        the notifications opened a little later if `read`)."""
        since = (_last_pk(Notification), _last_pk(OutboxMessage))
        result = action()
        opened = min(moment + READ_AFTER, self.now) if read else None
        Notification.objects.filter(pk__gt=since[0]).update(created_at=moment, read_at=opened)
        OutboxMessage.objects.filter(pk__gt=since[1]).update(
            created_at=moment, send_after=moment, sent_at=moment
        )
        return result


def _last_pk(model: type[models.Model]) -> int:
    return int(model._default_manager.aggregate(last=Max("pk"))["last"] or 0)


# An account's story -----------------------------------------------------------------------------


def _bill(
    access: PatientAccess,
    clock: Clock,
    clerk: User,
    plan: Plan,
    periods: tuple[Period, ...],
    *,
    benefits: bool = False,
    guarantor: Patient | None = None,
    subscriber: str = "",
) -> int:
    """Bill the periods' visits to the patient's plan, issue each period's statement, pay the
    ones paid; returns 1, or 0 if the account already has services billed."""
    patient = access.patient
    if ServiceLine.objects.filter(account__patient=patient).exists():
        return 0
    account = ledger.account_for(patient)
    if guarantor is not None:
        account.guarantor_name, account.guarantor_patient = guarantor.full_name, guarantor
        account.save(update_fields=["guarantor_name", "guarantor_patient"])
    coverage = _coverage(patient, plan, subscriber or patient.full_name, clock, clerk, benefits)
    campuses = {campus.slug: campus for campus in Campus.objects.all()}
    first_day = clock.today
    for index, period in enumerate(periods):
        issued_on = clock.day(period.issued_days_ago)
        for number, visit in enumerate(period.visits, start=1):
            day = _bill_visit(
                account, coverage, visit, clock, clerk, campuses, f"{index + 1}{number}", issued_on
            )
            first_day = min(first_day, day)
        statement = _issue(account, clock, clerk, issued_on, read=index < len(periods) - 1)
        if period.paid_days_ago is not None:
            _pay(access, statement, clock, clock.day(period.paid_days_ago))
    Account.objects.filter(pk=account.pk).update(created_at=clock.at(first_day - 14 * DAY, 9))
    return 1


def _coverage(
    patient: Patient, plan: Plan, subscriber: str, clock: Clock, clerk: User, benefits: bool
) -> Coverage:
    """The patient's verified primary plan (and, for Jamie, its benefits as the office entered them)."""
    verified_at = clock.at(clock.day(420), 11)
    coverage, _created = Coverage.objects.get_or_create(
        # By payer, not member ID: the member ID is encrypted at rest and cannot be looked up.
        patient=patient,
        payer_name=plan.payer_name,
        defaults={
            "priority": Coverage.Priority.PRIMARY,
            "member_id": plan.member_id,
            "plan_name": plan.plan_name,
            "group_number": plan.group_number,
            "subscriber_name": subscriber,
            "subscriber_relationship": plan.subscriber_relationship,
            "effective_from": dt.date(clock.today.year - 1, 1, 1),
            "status": Coverage.Status.VERIFIED,
            "created_at": verified_at - 2 * DAY,
            "verified_by": clerk,
            "verified_at": verified_at,
        },
    )
    if benefits:
        CoverageBenefits.objects.get_or_create(
            coverage=coverage,
            defaults={
                "deductible_cents": 1_500_00,
                "deductible_met_cents": 900_00,
                "coinsurance_percent": 20,
                "copay_cents": 30_00,
                "out_of_pocket_max_cents": 4_000_00,
                "out_of_pocket_met_cents": 1_180_00,
                "updated_by": clerk,
                "updated_at": verified_at,
            },
        )
    return coverage


def _bill_visit(
    account: Account,
    coverage: Coverage,
    visit: Visit,
    clock: Clock,
    clerk: User,
    campuses: dict[str, Campus],
    number: str,
    statement_day: dt.date,
) -> dt.date:
    """The visit's claim and service lines, dated to the visit and the insurer's answer; returns the visit's day."""
    day, appointment = _when(account.patient, visit, clock)
    decided = clock.day(visit.decided_days_ago) if visit.decided_days_ago is not None else day + 21 * DAY
    # The insurer answered before the statement that shows its answer was issued.
    decided = max(min(decided, statement_day - 3 * DAY), day)
    priced = [(line, PRICES[line.code]) for line in visit.lines]
    paid = sum(line.insurance_paid_cents for line in visit.lines)
    adjusted = sum(line.adjustment_cents for line in visit.lines)
    billed = sum(price.price_cents for _line, price in priced)
    claim = Claim.objects.create(
        account=account,
        coverage=coverage,
        number=f"C-{account.number}-{number}",
        payer_name=coverage.payer_name,
        service_date=day,
        submitted_on=min(day + 2 * DAY, decided),
        decided_on=decided,
        status=visit.status,
        billed_cents=billed,
        paid_cents=paid,
        adjusted_cents=adjusted,
        patient_cents=billed - paid - adjusted,
        denial_reason=visit.denial_reason,
    )
    charged, answered = clock.at(day, 17), clock.at(decided, 10)
    campus = appointment.campus if appointment is not None else campuses.get(visit.campus)
    for line, price in priced:
        service = statements.add_service_line(
            account,
            service_date=day,
            code=price.code,
            description=price.description,
            charge_cents=price.price_cents,
            insurance_paid_cents=line.insurance_paid_cents,
            adjustment_cents=line.adjustment_cents,
            posted_by=clerk,
            claim=claim,
            appointment=appointment,
            campus=campus,
            visit_label=visit.label,
        )
        ServiceLine.objects.filter(pk=service.pk).update(created_at=charged)
        entries = LedgerEntry.objects.filter(service_line=service)
        entries.filter(kind=Entry.CHARGE).update(posted_at=charged)
        entries.exclude(kind=Entry.CHARGE).update(posted_at=answered)
    return day


def _when(patient: Patient, visit: Visit, clock: Clock) -> tuple[dt.date, Appointment | None]:
    """The visit's day, from the record or the demo's appointments if they have it in the window."""
    nearest, furthest = clock.day(visit.window[0]), clock.day(visit.window[1])
    if visit.appointment:
        appointment = (
            Appointment.objects.filter(
                patient=patient, source_id=visit.appointment, status=Appointment.Status.FULFILLED
            )
            .select_related("campus")
            .first()
        )
        if appointment is not None:
            day = appointment.starts_at.astimezone(appointment.campus.zone).date()
            if furthest <= day <= nearest:
                return day, appointment
    if visit.encounter:
        found = Encounter.objects.filter(
            patient=patient,
            kind=Encounter.Kind.OFFICE,
            reason__icontains=visit.encounter,
            started_at__date__range=(furthest, nearest),
        )
        if visit.department:
            found = found.filter(department__slug=visit.department)
        encounter = found.order_by("-started_at", "-pk").first()
        if encounter is not None:
            return encounter.started_at.astimezone(ROCHESTER).date(), None
    if visit.vaccine:
        shot = (
            Immunization.objects.filter(
                patient=patient, vaccine__icontains=visit.vaccine, given_on__range=(furthest, nearest)
            )
            .order_by("-given_on", "-pk")
            .first()
        )
        if shot is not None:
            return shot.given_on, None
    day = clock.day(visit.days_ago)
    while day.weekday() >= 5:  # clinics see these visits on weekdays
        day -= DAY
    return day, None


def _issue(account: Account, clock: Clock, clerk: User, issued_on: dt.date, *, read: bool) -> Statement:
    """The statement, issued by the billing office early on its day; the family was told then."""
    moment = clock.at(issued_on, 6)
    statement = clock.telling(
        moment,
        lambda: statements.issue_statement(account, issued_on=issued_on, created_by=clerk),
        read=read,
    )
    Statement.objects.filter(pk=statement.pk).update(created_at=moment)
    statement.created_at = moment
    return statement


def _pay(access: PatientAccess, statement: Statement, clock: Clock, day: dt.date) -> Payment:
    """The statement paid in full with the sandbox's Visa, as the payer would on the pay page."""
    # A pay form's key is a 32-hex uuid; the demo's is derived from what it pays, so reruns match.
    key = uuid.uuid5(uuid.NAMESPACE_URL, f"demo-{access.patient.clinic_number}-statement-{statement.pk}").hex
    moment = clock.at(day, 19, 30)
    token = tokenise(DEMO_CARD, 12, clock.today.year + 2, "123").token
    request = payments.PaymentRequest(
        amount_cents=statement.amount_due_cents, idempotency_key=key, token=token, statement=statement
    )
    payment = clock.telling(moment, lambda: payments.do_pay(Actor.system(), access, request), read=True)
    if payment.status != Payment.Status.SUCCEEDED:
        raise RuntimeError(f"The demo payment {key} did not go through: {payment.failure_code}")
    # Made by the payer (the audit trail says the system did it, when it did).
    Payment.objects.filter(pk=payment.pk).update(
        created_by=access.user,
        created_at=moment - dt.timedelta(seconds=20),
        completed_at=moment,
    )
    LedgerEntry.objects.filter(payment=payment).update(posted_at=moment)
    SandboxCharge.objects.filter(idempotency_key=key).update(created_at=moment)
    return payment
