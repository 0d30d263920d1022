"""Every write on refill requests and saved pharmacies.

A refill request is a conversation: it starts a thread on the prescription topic with
the prescriber's care team (or the patient's first care team), through the same
`do_start_thread` every message uses, so the pool's inbox shows it and the pool is
told. Staff decide with a message in that thread (`do_reply`), which tells the patient
and their proxies. Each action is one transaction with its audit events and
notifications.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db import transaction
from django.db.models import QuerySet
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from portal.audit.actor import Actor
from portal.messaging import actions as messaging_actions
from portal.messaging import roles, routing
from portal.messaging.confidential import most_sensitive
from portal.messaging.models import Pharmacy, RefillItem, RefillRequest, Thread, Topic
from portal.messaging.refill_status import may_request_refills
from portal.organization.models import CareTeam
from portal.patients.access import PatientAccess, record_write
from portal.patients.models import Patient, Scope
from portal.records.access import visible
from portal.records.models import Medication

# Enough for every pharmacy a family really uses; the cap keeps the choice list short.
MAX_PHARMACIES = 20
NOT_RENEWABLE = gettext_lazy("This medication cannot be refilled online. Call your care team.")


class RefillRefused(Exception):
    """The request or decision breaks a rule; `message` says which, `field` where (if anywhere)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class NewPharmacy:
    """A pharmacy typed into the refill form, saved with the request."""

    name: str
    address: str = ""
    phone: str = ""


def not_renewable_reason(medication: Medication) -> str:
    return medication.not_renewable_reason or str(NOT_RENEWABLE)


def saved_pharmacies(patient: Patient) -> QuerySet[Pharmacy]:
    """The patient's pharmacies still in use, the preferred one first."""
    return Pharmacy.objects.filter(patient=patient, removed_at__isnull=True).order_by(
        "-preferred", "name", "pk"
    )


def _check_patient_side(access: PatientAccess) -> None:
    if access.is_staff_access or not access.allows(Scope.MESSAGE):
        raise RefillRefused(_("You cannot manage refills for this patient."))


# Pharmacies ----------------------------------------------------------------------------------


@transaction.atomic
def do_save_pharmacy(
    actor: Actor,
    access: PatientAccess,
    *,
    name: str,
    address: str = "",
    phone: str = "",
    preferred: bool = False,
) -> Pharmacy:
    """Save a pharmacy for the patient; the first one saved is used by default."""
    _check_patient_side(access)
    name = name.strip()
    if not name:
        raise RefillRefused(_("Enter the pharmacy's name."), "name")
    current = saved_pharmacies(access.patient)
    if current.count() >= MAX_PHARMACIES:
        raise RefillRefused(
            _("You have saved %(count)d pharmacies. Remove one you no longer use first.")
            % {"count": MAX_PHARMACIES}
        )
    preferred = preferred or not current.exists()
    if preferred:
        current.filter(preferred=True).update(preferred=False)
    pharmacy = Pharmacy.objects.create(
        patient=access.patient, name=name, address=address.strip(), phone=phone.strip(), preferred=preferred
    )
    record_write(actor, access, "refills.pharmacy_save", obj=pharmacy)
    return pharmacy


def _lock_pharmacy(access: PatientAccess, pharmacy: Pharmacy) -> Pharmacy:
    locked = saved_pharmacies(access.patient).select_for_update().filter(pk=pharmacy.pk).first()
    if locked is None:
        raise RefillRefused(_("That pharmacy is no longer saved. Choose another."), "pharmacy")
    return locked


@transaction.atomic
def do_prefer_pharmacy(actor: Actor, access: PatientAccess, pharmacy: Pharmacy) -> Pharmacy:
    """Use this pharmacy by default for the patient's refills."""
    _check_patient_side(access)
    pharmacy = _lock_pharmacy(access, pharmacy)
    saved_pharmacies(access.patient).exclude(pk=pharmacy.pk).filter(preferred=True).update(preferred=False)
    pharmacy.preferred = True
    pharmacy.save(update_fields=["preferred"])
    record_write(actor, access, "refills.pharmacy_prefer", obj=pharmacy)
    return pharmacy


@transaction.atomic
def do_remove_pharmacy(actor: Actor, access: PatientAccess, pharmacy: Pharmacy) -> Pharmacy:
    """Stop offering the pharmacy; requests already sent there keep pointing at it."""
    _check_patient_side(access)
    pharmacy = _lock_pharmacy(access, pharmacy)
    pharmacy.removed_at = timezone.now()
    pharmacy.preferred = False
    pharmacy.save(update_fields=["removed_at", "preferred"])
    record_write(actor, access, "refills.pharmacy_remove", obj=pharmacy)
    return pharmacy


# Requesting ----------------------------------------------------------------------------------


@transaction.atomic
def do_request_refill(
    actor: Actor,
    access: PatientAccess,
    *,
    medication_ids: Sequence[int],
    pharmacy: Pharmacy | None = None,
    new_pharmacy: NewPharmacy | None = None,
    notes: str = "",
) -> RefillRequest:
    """Ask the care team to renew active medications, sent to a saved (or newly typed) pharmacy."""
    if not may_request_refills(access):
        raise RefillRefused(_("You cannot ask for refills for this patient."))
    medications = _refillable_medications(access, medication_ids)
    chosen = _pharmacy_for(actor, access, pharmacy, new_pharmacy)
    care_team = _care_team_for(access.patient, medications)
    if care_team is None:
        raise RefillRefused(
            _("No care team is taking refill requests for you online. Please call your clinic.")
        )
    names = [str(medication)[:300] for medication in medications]
    notes = notes.strip()
    try:
        thread = messaging_actions.do_start_thread(
            actor,
            access,
            topic=Topic.PRESCRIPTION,
            care_team=care_team,
            # The subject shows in lists and on the home page; the medications' names stay
            # in the message, inside the thread that their confidentiality protects.
            subject=_("Prescription refill request"),
            draft=messaging_actions.Draft(body=_summary(names, chosen, notes)),
            sensitivity=most_sensitive(medication.sensitivity for medication in medications),
        )
    except messaging_actions.MessageRefused as error:
        raise RefillRefused(str(error)) from error
    refill = RefillRequest.objects.create(
        patient=access.patient, requested_by=access.user, pharmacy=chosen, notes=notes, thread=thread
    )
    RefillItem.objects.bulk_create(
        RefillItem(request=refill, medication=medication, medication_name=name)
        for medication, name in zip(medications, names, strict=True)
    )
    detail = {"medications": [medication.pk for medication in medications], "thread": thread.pk}
    record_write(actor, access, "refills.request", obj=refill, detail=detail)
    return refill


def _refillable_medications(access: PatientAccess, medication_ids: Iterable[int]) -> list[Medication]:
    """The chosen medications, locked, once each is the patient's, active, renewable and not asked for.

    The lock makes a second request for the same medication wait for the first, so the
    open-request check holds when two people submit at once.
    """
    ids = sorted(set(medication_ids))
    if not ids:
        raise RefillRefused(_("Choose at least one medication to refill."), "medications")
    medications = list(
        visible(Medication, access).filter(pk__in=ids).select_for_update(of=("self",)).order_by("name", "pk")
    )
    if len(medications) != len(ids) or not all(medication.is_active for medication in medications):
        raise RefillRefused(_("Choose only medications from your list of active medications."), "medications")
    for medication in medications:
        if not medication.renewable_online:
            raise RefillRefused(
                _("%(medication)s cannot be refilled online: %(reason)s")
                % {"medication": medication, "reason": not_renewable_reason(medication)},
                "medications",
            )
    waiting = (
        RefillItem.objects.filter(medication__in=medications, request__status__in=RefillRequest.OPEN_STATUSES)
        .select_related("request")
        .order_by("medication_name", "pk")
        .first()
    )
    if waiting is not None:
        raise RefillRefused(
            _(
                "A refill of %(medication)s was already requested on %(date)s. Wait for the care team's answer."
            )
            % {
                "medication": waiting.medication_name,
                "date": formats.date_format(timezone.localtime(waiting.request.created_at), "DATE_FORMAT"),
            },
            "medications",
        )
    return medications


def _pharmacy_for(
    actor: Actor, access: PatientAccess, pharmacy: Pharmacy | None, new_pharmacy: NewPharmacy | None
) -> Pharmacy:
    if new_pharmacy is not None:
        return do_save_pharmacy(
            actor, access, name=new_pharmacy.name, address=new_pharmacy.address, phone=new_pharmacy.phone
        )
    if pharmacy is None:
        raise RefillRefused(_("Choose the pharmacy to send the refill to."), "pharmacy")
    return _lock_pharmacy(access, pharmacy)


def _care_team_for(patient: Patient, medications: Sequence[Medication]) -> CareTeam | None:
    """The care team of a prescriber the patient is in the care of, else their first care team."""
    teams = routing.patient_care_teams(patient)
    prescribers = [medication.prescriber_id for medication in medications if medication.prescriber_id]
    team = teams.filter(members__in=prescribers).first() if prescribers else None
    return team or teams.first()


def _summary(names: Sequence[str], pharmacy: Pharmacy, notes: str) -> str:
    """The first message of the thread: what the care team needs to decide, in plain text."""
    where = ", ".join(part for part in (pharmacy.name, pharmacy.address, pharmacy.phone) if part)
    lines = [
        _("Refill request: %(medications)s.") % {"medications": ", ".join(names)},
        _("Pharmacy: %(pharmacy)s") % {"pharmacy": where},
    ]
    if notes:
        lines.append(_("Notes: %(notes)s") % {"notes": notes})
    return "\n".join(lines)


# Deciding ------------------------------------------------------------------------------------


def _lock_open(
    access: PatientAccess, refill: RefillRequest, *, decides: bool = True
) -> tuple[RefillRequest, Thread]:
    """The request and its thread, locked, once the writer may still act on them.

    Approving or declining takes a prescriber, asking a question any clinician. The
    thread is locked first (as a reply locks it before touching its request) and the
    writer's pool membership is checked under that lock, so a decision racing a move of
    the thread to another pool is refused.
    """
    if (
        not access.is_staff_access
        or not access.allows(Scope.MESSAGE)
        or access.patient.pk != refill.patient_id
    ):
        raise RefillRefused(_("You cannot decide refill requests for this patient."))
    if decides and not roles.prescribes(access.user):
        raise RefillRefused(_("A prescriber decides this request."))
    if not decides and not roles.is_clinician(access.user):
        raise RefillRefused(_("Only the clinical staff of the care team can ask about a refill."))
    thread_id = RefillRequest.objects.filter(pk=refill.pk).values_list("thread_id", flat=True).first()
    thread = (
        Thread.objects.select_for_update(of=("self",)).select_related("pool").filter(pk=thread_id).first()
        if thread_id
        else None
    )
    if thread is None:
        raise RefillRefused(_("This refill request has no conversation to answer in."))
    if not messaging_actions.in_pool(access, thread):
        raise RefillRefused(_("This conversation is no longer in one of your pools."))
    locked = (
        RefillRequest.objects.select_for_update(of=("self",)).select_related("pharmacy").get(pk=refill.pk)
    )
    if locked.thread_id != thread.pk:
        raise RefillRefused(_("This refill request has no conversation to answer in."))
    if locked.status not in RefillRequest.OPEN_STATUSES:
        raise RefillRefused(_("This refill request has already been decided."))
    return locked, thread


def _medication_names(refill: RefillRequest) -> str:
    return ", ".join(refill.items.order_by("pk").values_list("medication_name", flat=True))


def _decide(
    actor: Actor,
    access: PatientAccess,
    refill: RefillRequest,
    thread: Thread,
    status: str,
    note: str,
    body: str,
) -> RefillRequest:
    refill.status = status
    refill.decision_note = note
    refill.decided_by = access.user
    refill.decided_at = timezone.now()
    refill.save(update_fields=["status", "decision_note", "decided_by", "decided_at"])
    # The decision is a message in the request's thread, so the patient reads it there and
    # hears about it the way they hear about any answer from the care team. An approval
    # settles the conversation; after a refusal the patient may still answer the reason.
    settled = (
        Thread.Status.CLOSED if status == RefillRequest.Status.APPROVED else Thread.Status.WAITING_ON_PATIENT
    )
    messaging_actions.do_reply(actor, access, thread, messaging_actions.Draft(body=body), status=settled)
    return refill


@transaction.atomic
def do_approve_refill(
    actor: Actor, access: PatientAccess, refill: RefillRequest, *, note: str = ""
) -> RefillRequest:
    """Approve the refill; the patient is told in the thread."""
    refill, thread = _lock_open(access, refill)
    note = note.strip()
    body = _("Your refill request was approved: %(medications)s. It is going to %(pharmacy)s.") % {
        "medications": _medication_names(refill),
        "pharmacy": refill.pharmacy.name,
    }
    if note:
        body = f"{body}\n\n{note}"
    _decide(actor, access, refill, thread, RefillRequest.Status.APPROVED, note, body)
    record_write(actor, access, "refills.approve", obj=refill, detail={"thread": thread.pk})
    return refill


@transaction.atomic
def do_deny_refill(
    actor: Actor, access: PatientAccess, refill: RefillRequest, *, reason: str
) -> RefillRequest:
    """Decline the refill with a reason the patient reads in the thread."""
    reason = reason.strip()
    if not reason:
        raise RefillRefused(_("Give the patient the reason the refill is declined."), "reason")
    refill, thread = _lock_open(access, refill)
    body = _("Your refill request was not approved: %(medications)s.\n\nReason: %(reason)s") % {
        "medications": _medication_names(refill),
        "reason": reason,
    }
    _decide(actor, access, refill, thread, RefillRequest.Status.DENIED, reason, body)
    record_write(actor, access, "refills.deny", obj=refill, detail={"thread": thread.pk})
    return refill


@transaction.atomic
def do_ask_about_refill(
    actor: Actor, access: PatientAccess, refill: RefillRequest, *, question: str
) -> RefillRequest:
    """Ask the patient something before deciding; their answer in the thread reopens the request."""
    question = question.strip()
    if not question:
        raise RefillRefused(_("Write the question for the patient."), "question")
    refill, thread = _lock_open(access, refill, decides=False)
    refill.status = RefillRequest.Status.QUESTION
    refill.save(update_fields=["status"])
    messaging_actions.do_reply(
        actor, access, thread, messaging_actions.Draft(body=question), status=Thread.Status.WAITING_ON_PATIENT
    )
    record_write(actor, access, "refills.ask", obj=refill, detail={"thread": thread.pk})
    return refill


def refill_answered(thread: Thread) -> bool:
    """The patient side wrote in a refill request's thread: a question asked is answered.

    Called by `actions.do_reply` inside its transaction, so it needs no audit of its own:
    the reply is the audited write.
    """
    answered = RefillRequest.objects.filter(thread=thread, status=RefillRequest.Status.QUESTION)
    return answered.update(status=RefillRequest.Status.REQUESTED) > 0
