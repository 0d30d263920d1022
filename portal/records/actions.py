"""Writes to the record made in the portal: correction requests, staff entries and corrections,
release of held results, and the clinic's hold rules.

Each `do_*` function is atomic and writes its own audit event in the same transaction.
Patients are told of what changed for them through `portal.notifications` (their account
and proxies who may view the record and the item).
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from portal.accounts.models import User
from portal.audit.actor import Actor
from portal.audit.log import Kind, record
from portal.notifications import send
from portal.notifications.models import Kind as NotificationKind
from portal.notifications.models import Notification
from portal.organization.models import Practitioner
from portal.patients.access import PatientAccess, record_write
from portal.patients.models import Patient, Scope
from portal.records.models import (
    AmendmentRequest,
    ClinicalNote,
    Correction,
    Observation,
    RecordItem,
    ReleaseHoldRule,
    ReleasePreference,
    ResultReport,
)
from portal.records.tasks import schedule_hold_end

# Enough for a real dispute; more open requests than this from one record looks like abuse.
MAX_OPEN_AMENDMENTS = 20
MIN_HOLD_REASON = 20
MIN_CORRECTION_REASON = 5
ALREADY_DECIDED = gettext_noop("This request has already been answered.")


class RecordChangeRefused(ValueError):
    """A record change that cannot be made; the message says why, for the person asking."""


# Notifications --------------------------------------------------------------------------


def notify_patient(
    patient: Patient, title: str, body: str, link: str, sensitivity: str = "", *, key: str = ""
) -> int:
    """Tell everyone who reads the record (and may see an item of `sensitivity`).

    `title` and `body` are untranslated (gettext_noop) texts, shown only in the portal,
    translated into the patient's preferred language. Email and text say only the fixed
    words for record news, once per `key` (a fresh one when none is given).
    """
    return send.notify_patient(
        patient,
        kind=NotificationKind.RESULTS,
        key=key or f"records.notice:{patient.pk}:{secrets.token_hex(8)}",
        link=link,
        compose=lambda: (_(title), _(body) if body else ""),
        sensitivity=sensitivity,
    )


# Correction requests (patient side) -----------------------------------------------------


def item_label(item: models.Model) -> str:
    """A short label for a record item, kept on the request so it reads well even after a change.

    Reports carry their date in `str()`; a value or a note gets its date added.
    """
    label = str(item)
    if isinstance(item, Observation):
        label = f"{label} ({item.effective_at:%Y-%m-%d})"
    elif isinstance(item, ClinicalNote):
        label = f"{label} ({item.written_at:%Y-%m-%d})"
    return label[:300]


@transaction.atomic
def do_request_amendment(
    actor: Actor, access: PatientAccess, item: RecordItem, description: str, proposed_change: str = ""
) -> AmendmentRequest:
    """The patient (or a proxy who may view the record) says an item looks wrong."""
    if not access.allows(Scope.VIEW) or item.patient_id != access.patient.pk:
        raise RecordChangeRefused(_("You cannot ask for a correction to this record."))
    open_requests = AmendmentRequest.objects.filter(
        patient=access.patient, status=AmendmentRequest.Status.SUBMITTED
    ).count()
    if open_requests >= MAX_OPEN_AMENDMENTS:
        raise RecordChangeRefused(
            _(
                "There are already %(count)d open correction requests on this record. "
                "Please wait for the clinic to answer them, or call the clinic."
            )
            % {"count": open_requests}
        )
    amendment = AmendmentRequest.objects.create(
        patient=access.patient,
        requested_by=access.user,
        item_type=item._meta.label_lower,
        item_id=item.pk,
        item_label=item_label(item),
        description=description,
        proposed_change=proposed_change,
    )
    record_write(
        actor,
        access,
        "records.amendment_request",
        obj=amendment,
        detail={"item_type": amendment.item_type, "item_id": amendment.item_id},
    )
    return amendment


# Correction requests (staff side) -------------------------------------------------------


@transaction.atomic
def do_decide_amendment(
    actor: Actor, access: PatientAccess, amendment: AmendmentRequest, accepted: bool, response: str
) -> AmendmentRequest:
    """Accept or deny a request, once; the patient is told the reply.

    The row is locked first so two staff answering at the same moment cannot both decide.
    """
    locked = (
        AmendmentRequest.objects.select_for_update().filter(pk=amendment.pk, patient=access.patient).first()
    )
    if locked is None or locked.status != AmendmentRequest.Status.SUBMITTED:
        raise RecordChangeRefused(_(ALREADY_DECIDED))
    if not response.strip():
        raise RecordChangeRefused(_("Write a reply for the patient."))
    locked.status = AmendmentRequest.Status.ACCEPTED if accepted else AmendmentRequest.Status.DENIED
    locked.response = response.strip()
    locked.decided_by = actor.user
    locked.decided_at = timezone.now()
    locked.save(update_fields=["status", "response", "decided_by", "decided_at"])
    record_write(
        actor,
        access,
        "records.amendment_decide",
        obj=locked,
        detail={"accepted": accepted, "item_type": locked.item_type, "item_id": locked.item_id},
    )
    notify_patient(
        access.patient,
        gettext_noop("Your correction request was answered"),
        gettext_noop(
            "The clinic has answered your request to correct your record. Open it to read the reply."
        ),
        reverse("corrections:detail", args=[locked.pk]),
        sensitivity=_item_sensitivity(locked),
        key=f"records.amendment:{locked.pk}",
    )
    return locked


def _item_sensitivity(amendment: AmendmentRequest) -> str:
    try:
        model = apps.get_model(amendment.item_type)
    except (LookupError, ValueError):
        return ""
    item = model._default_manager.filter(pk=amendment.item_id).first()
    if item is None:
        return ""
    # A value inherits its report's confidentiality (imports label the report).
    report = getattr(item, "report", None)
    return str(getattr(item, "sensitivity", "") or getattr(report, "sensitivity", "") or "")


# Results entered by staff ---------------------------------------------------------------


@dataclass(frozen=True)
class ObservationEntry:
    """One value typed by staff; the flag is worked out from the range when not given."""

    code: str
    name: str
    value_number: Decimal | None = None
    value_text: str = ""
    unit: str = ""
    range_low: Decimal | None = None
    range_high: Decimal | None = None
    interpretation: str = ""

    def flag(self) -> str:
        if self.interpretation:
            return self.interpretation
        return flag_from_range(self.value_number, self.range_low, self.range_high)


@dataclass(frozen=True)
class ResultEntry:
    """A report typed by staff (for practices without a lab interface)."""

    name: str
    category: str
    effective_at: dt.datetime
    code: str = ""
    status: str = ResultReport.Status.FINAL
    ordered_by: Practitioner | None = None
    conclusion: str = ""
    sensitivity: str = ""
    observations: list[ObservationEntry] = field(default_factory=list)


def flag_from_range(value: Decimal | None, low: Decimal | None, high: Decimal | None) -> str:
    """Low, high or normal against the reference range; not flagged without a number or range."""
    if value is None or (low is None and high is None):
        return Observation.Interpretation.UNKNOWN
    if low is not None and value < low:
        return Observation.Interpretation.LOW
    if high is not None and value > high:
        return Observation.Interpretation.HIGH
    return Observation.Interpretation.NORMAL


def active_hold_rule(category: str) -> ReleaseHoldRule | None:
    return ReleaseHoldRule.objects.filter(category=category, active=True).first()


@transaction.atomic
def do_enter_result(actor: Actor, access: PatientAccess, entry: ResultEntry) -> ResultReport:
    """Store a report and its values, applying the clinic's hold rule for its category."""
    issued_at = timezone.now()
    rule = active_hold_rule(entry.category)
    hold_hours = min(rule.hold_hours, settings.PORTAL_RESULT_HOLD_MAX_HOURS) if rule else 0
    report = ResultReport.objects.create(
        patient=access.patient,
        entered_by=actor.user,
        name=entry.name,
        code=entry.code,
        category=entry.category,
        status=entry.status,
        effective_at=entry.effective_at,
        issued_at=issued_at,
        ordered_by=entry.ordered_by,
        ordered_by_name=entry.ordered_by.display_name if entry.ordered_by else "",
        conclusion=entry.conclusion,
        sensitivity=entry.sensitivity,
        available_at=issued_at + dt.timedelta(hours=hold_hours),
        hold_reason=rule.reason if rule else "",
    )
    Observation.objects.bulk_create(
        Observation(
            patient=access.patient,
            entered_by=actor.user,
            report=report,
            category=_observation_category(entry.category),
            code=value.code,
            name=value.name,
            value_number=value.value_number,
            value_text=value.value_text,
            unit=value.unit,
            range_low=value.range_low,
            range_high=value.range_high,
            interpretation=value.flag(),
            status=entry.status,
            effective_at=entry.effective_at,
            position=position,
            sensitivity=entry.sensitivity,
        )
        for position, value in enumerate(entry.observations)
    )
    record_write(
        actor,
        access,
        "records.result_enter",
        obj=report,
        detail={"category": entry.category, "values": len(entry.observations), "held_hours": hold_hours},
    )
    if rule:
        schedule_hold_end(report)
    elif released_to_patient_now(report):
        notify_new_result(report)
    return report


def _observation_category(report_category: str) -> str:
    if report_category == ResultReport.Category.IMAGING:
        return Observation.Category.IMAGING
    if report_category == ResultReport.Category.LAB:
        return Observation.Category.LABORATORY
    return Observation.Category.OTHER


# Stored untranslated and translated per patient by `notify_patient`; imports use them too.
NEW_RESULT = gettext_noop("New test result")
NEW_RESULT_BODY = gettext_noop("A new test result is in your record.")


def notify_new_result(report: ResultReport) -> None:
    notify_patient(
        report.patient,
        NEW_RESULT,
        NEW_RESULT_BODY,
        _result_link(report),
        sensitivity=report.sensitivity,
        key=f"records.result:{report.pk}",
    )


def _result_link(report: ResultReport) -> str:
    return reverse("records:result", args=[report.pk])


def told_since(report: ResultReport, moment: dt.datetime) -> bool:
    """Whether anyone acting for the patient got the report's new-result notice since `moment`.

    Matched on its title in every language it may have been written in: a correction's
    notice links to the same page and must not count.
    """
    titles = set()
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            titles.add(_(NEW_RESULT)[:200])
    return Notification.objects.filter(
        patient_id=report.patient_id, link=_result_link(report), title__in=titles, created_at__gte=moment
    ).exists()


def released_to_patient_now(report: ResultReport) -> bool:
    """Whether the patient sees the report now (released, and reviewed if they asked to wait)."""
    if report.is_held:
        return False
    if report.reviewed_at is not None:
        return True
    return not ReleasePreference.objects.filter(
        patient_id=report.patient_id, category=report.category, wait_for_review=True
    ).exists()


@transaction.atomic
def do_release_result(actor: Actor, access: PatientAccess, report: ResultReport) -> bool:
    """Release a held report now. False (and nothing written) if it was not held."""
    locked = ResultReport.objects.select_for_update().get(pk=report.pk, patient=access.patient)
    if not locked.is_held:
        return False
    locked.available_at = timezone.now()
    locked.released_by = actor.user
    locked.save(update_fields=["available_at", "released_by", "updated_at"])
    record_write(
        actor, access, "records.result_release", obj=locked, detail={"hold_reason": locked.hold_reason[:200]}
    )
    if released_to_patient_now(locked):
        notify_new_result(locked)
    report.available_at, report.released_by = locked.available_at, locked.released_by
    return True


@transaction.atomic
def do_review_result(actor: Actor, access: PatientAccess, report: ResultReport) -> bool:
    """Mark a report reviewed by a clinician. False (and nothing written) if it already was."""
    locked = ResultReport.objects.select_for_update().get(pk=report.pk, patient=access.patient)
    if locked.reviewed_at is not None:
        return False
    was_visible = released_to_patient_now(locked)
    locked.reviewed_at = timezone.now()
    locked.reviewed_by = actor.user
    locked.save(update_fields=["reviewed_at", "reviewed_by", "updated_at"])
    record_write(actor, access, "records.result_review", obj=locked)
    # A patient who asked to wait for their clinician sees it now.
    if not was_visible and released_to_patient_now(locked):
        notify_new_result(locked)
    report.reviewed_at, report.reviewed_by = locked.reviewed_at, locked.reviewed_by
    return True


# Corrections by staff -------------------------------------------------------------------


@dataclass(frozen=True)
class ObservationChange:
    """The corrected value of an observation."""

    value_number: Decimal | None
    value_text: str
    unit: str
    range_low: Decimal | None
    range_high: Decimal | None
    interpretation: str = ""

    def flag(self) -> str:
        if self.interpretation:
            return self.interpretation
        return flag_from_range(self.value_number, self.range_low, self.range_high)


OBSERVATION_FIELDS = (
    "value_number",
    "value_text",
    "unit",
    "range_low",
    "range_high",
    "interpretation",
    "status",
)


def _snapshot(item: models.Model, fields: tuple[str, ...]) -> dict[str, Any]:
    """The fields' values as JSON-safe text (decimals and dates as strings)."""
    values: dict[str, Any] = {}
    for name in fields:
        value = getattr(item, name)
        values[name] = str(value) if isinstance(value, Decimal | dt.date) else value
    return values


def _correction(actor: Actor, item: RecordItem, previous: dict[str, Any], reason: str) -> Correction:
    return Correction.objects.create(
        patient_id=item.patient_id,
        item_type=item._meta.label_lower,
        item_id=item.pk,
        previous=previous,
        reason=reason,
        corrected_by=actor.user,
    )


@transaction.atomic
def do_correct_observation(
    actor: Actor, access: PatientAccess, observation: Observation, change: ObservationChange, reason: str
) -> Correction:
    """Correct one value, keeping what it said before; the report becomes "corrected"."""
    locked = Observation.objects.select_for_update().get(pk=observation.pk, patient=access.patient)
    correction = _correction(actor, locked, _snapshot(locked, OBSERVATION_FIELDS), reason)
    locked.value_number = change.value_number
    locked.value_text = change.value_text
    locked.unit = change.unit
    locked.range_low = change.range_low
    locked.range_high = change.range_high
    locked.interpretation = change.flag()
    locked.status = Observation.Status.CORRECTED
    locked.save()
    report = locked.report
    if report is not None and report.status != ResultReport.Status.CORRECTED:
        report.status = ResultReport.Status.CORRECTED
        report.save(update_fields=["status", "updated_at"])
    record_write(
        actor,
        access,
        "records.result_correct",
        obj=locked,
        detail={"correction": correction.pk, "reason": reason[:500]},
    )
    if report is None or released_to_patient_now(report):
        notify_patient(
            access.patient,
            gettext_noop("A result was corrected"),
            gettext_noop("The clinic corrected a test result in your record. Open it to see what changed."),
            _result_link(report) if report else "",
            # A value inherits its report's confidentiality (imports label the report).
            sensitivity=locked.sensitivity or (report.sensitivity if report else ""),
            key=f"records.correction:{correction.pk}",
        )
    return correction


@transaction.atomic
def do_enter_note(
    actor: Actor,
    access: PatientAccess,
    kind: str,
    title: str,
    body: str,
    written_at: dt.datetime | None = None,
    sensitivity: str = "",
) -> ClinicalNote:
    """A note written in the portal by the signed-in clinician."""
    author = _practitioner(actor)
    note = ClinicalNote.objects.create(
        patient=access.patient,
        entered_by=actor.user,
        kind=kind,
        title=title,
        body=body,
        written_at=written_at or timezone.now(),
        sensitivity=sensitivity,
        author=author,
        author_name=author.display_name if author else "",
    )
    record_write(actor, access, "records.note_enter", obj=note)
    return note


def _practitioner(actor: Actor) -> Practitioner | None:
    if actor.user is None:
        return None
    return Practitioner.objects.filter(user=actor.user).first()


@transaction.atomic
def do_correct_note(
    actor: Actor, access: PatientAccess, note: ClinicalNote, title: str, body: str, reason: str
) -> Correction:
    """Amend a note, keeping its earlier text; the note is marked "amended"."""
    locked = ClinicalNote.objects.select_for_update().get(pk=note.pk, patient=access.patient)
    if locked.status == ClinicalNote.Status.ENTERED_IN_ERROR:
        raise RecordChangeRefused(_("This note was entered in error and can no longer be changed."))
    correction = _correction(actor, locked, _snapshot(locked, ("title", "body", "status")), reason)
    locked.title, locked.body = title, body
    locked.status = ClinicalNote.Status.AMENDED
    locked.save(update_fields=["title", "body", "status", "updated_at"])
    record_write(
        actor,
        access,
        "records.note_correct",
        obj=locked,
        detail={"correction": correction.pk, "reason": reason[:500]},
    )
    _notify_note_changed(locked, correction)
    return correction


@transaction.atomic
def do_mark_note_entered_in_error(
    actor: Actor, access: PatientAccess, note: ClinicalNote, reason: str
) -> Correction:
    """Mark a note as written for the wrong patient or by mistake. Its text is kept."""
    locked = ClinicalNote.objects.select_for_update().get(pk=note.pk, patient=access.patient)
    if locked.status == ClinicalNote.Status.ENTERED_IN_ERROR:
        raise RecordChangeRefused(_("This note is already marked as entered in error."))
    correction = _correction(actor, locked, _snapshot(locked, ("title", "body", "status")), reason)
    locked.status = ClinicalNote.Status.ENTERED_IN_ERROR
    locked.save(update_fields=["status", "updated_at"])
    record_write(
        actor,
        access,
        "records.note_in_error",
        obj=locked,
        detail={"correction": correction.pk, "reason": reason[:500]},
    )
    _notify_note_changed(locked, correction)
    return correction


def _notify_note_changed(note: ClinicalNote, correction: Correction) -> None:
    link = reverse("records:note", args=[note.pk])
    notify_patient(
        note.patient,
        gettext_noop("A note was corrected"),
        gettext_noop("The clinic corrected a clinical note in your record. Open it to see what changed."),
        link,
        sensitivity=note.sensitivity,
        key=f"records.correction:{correction.pk}",
    )


# Hold rules (clinic configuration) ------------------------------------------------------


def may_configure_holds(user: User) -> bool:
    """Only the clinic's administrators change hold rules: superusers, or staff with the Administrator role.

    A hold delays what patients are entitled to see, so it is a policy decision for the
    clinic, not something each clinician sets.
    """
    if not user.is_active:
        return False
    if user.is_superuser:
        return True
    return Practitioner.objects.filter(user=user, active=True, role=Practitioner.Role.ADMINISTRATOR).exists()


@transaction.atomic
def do_create_hold_rule(actor: Actor, category: str, hold_hours: int, reason: str) -> ReleaseHoldRule:
    """Hold new results of `category` for clinician review; replaces the category's active rule."""
    if actor.user is None or not may_configure_holds(actor.user):
        raise RecordChangeRefused(_("Only the clinic's administrators can change hold rules."))
    if not 1 <= hold_hours <= settings.PORTAL_RESULT_HOLD_MAX_HOURS:
        raise RecordChangeRefused(
            _("A hold lasts between 1 and %(max)d hours.") % {"max": settings.PORTAL_RESULT_HOLD_MAX_HOURS}
        )
    if len(reason.strip()) < MIN_HOLD_REASON:
        raise RecordChangeRefused(
            _("Explain the reason for the hold in at least %(min)d characters.") % {"min": MIN_HOLD_REASON}
        )
    replaced = list(ReleaseHoldRule.objects.select_for_update().filter(category=category, active=True))
    for old in replaced:
        old.active = False
        old.save(update_fields=["active"])
    try:
        with transaction.atomic():
            rule = ReleaseHoldRule.objects.create(
                category=category, hold_hours=hold_hours, reason=reason.strip(), created_by=actor.user
            )
    except IntegrityError as error:
        # Two administrators saving the same category at once: one rule per category wins.
        raise RecordChangeRefused(
            _("Another administrator changed this hold at the same moment. Check the rules and try again.")
        ) from error
    record(
        actor,
        "records.hold_rule_create",
        kind=Kind.WRITE,
        obj=rule,
        detail={
            "category": category,
            "hold_hours": hold_hours,
            "reason": rule.reason[:1000],
            "replaced": [old.pk for old in replaced],
        },
    )
    return rule


@transaction.atomic
def do_deactivate_hold_rule(actor: Actor, rule: ReleaseHoldRule) -> bool:
    """Stop holding a category's new results. Results already held keep their release time."""
    if actor.user is None or not may_configure_holds(actor.user):
        raise RecordChangeRefused(_("Only the clinic's administrators can change hold rules."))
    locked = ReleaseHoldRule.objects.select_for_update().get(pk=rule.pk)
    if not locked.active:
        return False
    locked.active = False
    locked.save(update_fields=["active"])
    record(
        actor,
        "records.hold_rule_deactivate",
        kind=Kind.WRITE,
        obj=locked,
        detail={"category": locked.category, "hold_hours": locked.hold_hours},
    )
    return True
