"""Earlier-slot offers from the waitlist.

A patient with a booked visit may ask to be moved earlier (`do_join_waitlist`). When a
booked slot is freed, `hooks.slot_freed` calls `schedule_offers`, and a background task
offers the slot to the first `PORTAL_WAITLIST_OFFER_BATCH` matching entries, oldest
first, holding it (`Slot.held_until`) so the general search does not hand it out while
they decide. The first to accept moves their visit through
`booking.do_reschedule_appointment`, whose conditional UPDATE lets exactly one win; a
decline, an expiry or a withdrawal passes the slot on to the next waiting patient.

`refresh_offers` is the one place that decides who holds offers for a slot: every
trigger (a freed slot, a decline, an expiry, the catch-up sweep) calls it with the slot
row locked, so two workers never offer the same slot twice.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.audit.actor import Actor
from portal.lib import campus_time
from portal.patients.access import PatientAccess, record_write
from portal.scheduling import booking
from portal.scheduling.models import Appointment, Slot, SlotOffer, WaitlistEntry
from portal.scheduling.notify import tell_patient

TOPIC = "scheduling.waitlist_offer"
# Offers whose patient may not be offered the same slot again.
ANSWERED_OR_OPEN = (SlotOffer.Status.OPEN, SlotOffer.Status.DECLINED, SlotOffer.Status.EXPIRED)


class WaitlistRefused(Exception):
    """The waitlist action cannot be done now; `message` says why, for the patient."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class OfferTaken(WaitlistRefused):
    """Another patient accepted the same time first."""


# ---------------------------------------------------------------- joining and leaving


def may_join(appointment: Appointment, now: dt.datetime | None = None) -> bool:
    return appointment.status == Appointment.Status.BOOKED and appointment.starts_at > (now or timezone.now())


def active_entry(appointment: Appointment) -> WaitlistEntry | None:
    return WaitlistEntry.objects.filter(appointment=appointment, status=WaitlistEntry.Status.ACTIVE).first()


@transaction.atomic
def do_join_waitlist(
    actor: Actor,
    access: PatientAccess,
    appointment: Appointment,
    *,
    any_clinician: bool,
    earliest_date: dt.date | None,
) -> WaitlistEntry:
    """Ask for an earlier time for a booked, future appointment (once per appointment)."""
    appointment = Appointment.objects.select_for_update().get(pk=appointment.pk)
    if not may_join(appointment):
        raise WaitlistRefused(_("Only a booked appointment that has not happened yet can be moved earlier."))
    if (
        earliest_date is not None
        and earliest_date >= campus_time.local(appointment.starts_at, appointment.campus).date()
    ):
        raise WaitlistRefused(_("Choose a date before the appointment you already have."))
    entry = WaitlistEntry(
        patient=appointment.patient,
        appointment=appointment,
        any_clinician=any_clinician,
        earliest_date=earliest_date,
        created_by=actor.user,
    )
    try:
        with transaction.atomic():
            entry.save()
    except IntegrityError as exc:  # one active entry per appointment
        raise WaitlistRefused(_("This appointment is already waiting for an earlier time.")) from exc
    record_write(
        actor,
        access,
        "waitlist.join",
        obj=entry,
        detail={"appointment": appointment.pk, "any_clinician": any_clinician},
    )
    return entry


@transaction.atomic
def do_leave_waitlist(actor: Actor, access: PatientAccess, entry: WaitlistEntry) -> WaitlistEntry:
    """Stop waiting: open offers made to this entry are withdrawn and passed on."""
    entry = WaitlistEntry.objects.select_for_update().get(pk=entry.pk)
    if entry.status != WaitlistEntry.Status.ACTIVE:
        raise WaitlistRefused(_("This appointment is no longer waiting for an earlier time."))
    entry.status = WaitlistEntry.Status.CANCELLED
    entry.save(update_fields=["status"])
    _withdraw(SlotOffer.objects.filter(waitlist_entry=entry, status=SlotOffer.Status.OPEN))
    record_write(actor, access, "waitlist.leave", obj=entry, detail={"appointment": entry.appointment_id})
    return entry


def withdraw_offers_for(appointment: Appointment) -> int:
    """A cancelled (or moved) appointment no longer wants earlier times: withdraw its
    open offers, and pass each slot on once this transaction commits."""
    return _withdraw(
        SlotOffer.objects.filter(waitlist_entry__appointment=appointment, status=SlotOffer.Status.OPEN)
    )


def _withdraw(offers: QuerySet[SlotOffer]) -> int:
    slot_ids = set(offers.values_list("slot_id", flat=True))
    count = offers.update(status=SlotOffer.Status.WITHDRAWN)
    for slot_id in slot_ids:
        transaction.on_commit(lambda slot_id=slot_id: schedule_offers(slot_id))  # type: ignore[misc]
    return count


# ---------------------------------------------------------------- offering


def schedule_offers(slot_id: int) -> None:
    """Offer a freed slot to the first matching waiting patients (background task)."""
    from portal.scheduling.tasks import offer_freed_slot

    offer_freed_slot.enqueue(slot_id)


def matching_entries(slot: Slot, now: dt.datetime) -> QuerySet[WaitlistEntry]:
    """Active entries the slot would suit, oldest first.

    The visit must be booked and later than the slot, at the same campus, of a visit
    type the slot's session takes and that fits in it, with the same clinician (or the
    same department when any clinician will do); the slot must not be before the
    entry's "not before" date (campus-local), and the patient must not have been
    offered this slot already or have another visit at that time.
    """
    local_day = campus_time.local(slot.starts_at, slot.campus).date()
    clash = Appointment.objects.filter(
        patient=OuterRef("patient"),
        status=Appointment.Status.BOOKED,
        starts_at__lt=slot.ends_at,
        ends_at__gt=slot.starts_at,
    ).exclude(pk=OuterRef("appointment_id"))
    offered = SlotOffer.objects.filter(slot=slot, patient=OuterRef("patient"), status__in=ANSWERED_OR_OPEN)
    return (
        WaitlistEntry.objects.filter(
            status=WaitlistEntry.Status.ACTIVE,
            appointment__status=Appointment.Status.BOOKED,
            appointment__starts_at__gt=slot.starts_at,
            appointment__campus_id=slot.campus_id,
            appointment__visit_type__in=slot.template.visit_types.filter(active=True),
            appointment__visit_type__duration_minutes__lte=slot.minutes,
        )
        .filter(
            Q(appointment__practitioner_id=slot.practitioner_id)
            | Q(any_clinician=True, appointment__department_id=slot.department_id)
        )
        .filter(Q(earliest_date__isnull=True) | Q(earliest_date__lte=local_day))
        .exclude(Exists(offered))
        .exclude(Exists(clash))
        .select_related("patient", "appointment__visit_type", "appointment__campus")
        .order_by("created_at", "id")
    )


def refresh_offers(slot_id: int, now: dt.datetime | None = None) -> list[SlotOffer]:
    """Expire the slot's overdue offers, offer it to the next waiting patients up to the
    batch size, and hold it for as long as any offer is open. Returns the new offers."""
    now = now or timezone.now()
    with transaction.atomic():
        slot = (
            Slot.objects.select_for_update(of=("self",))
            .select_related("campus", "template")
            .filter(pk=slot_id)
            .first()
        )
        if slot is None:
            return []
        open_offers = SlotOffer.objects.filter(slot=slot, status=SlotOffer.Status.OPEN)
        open_offers.filter(expires_at__lte=now).update(status=SlotOffer.Status.EXPIRED)
        if slot.status != Slot.Status.OPEN:  # booked or blocked meanwhile: nothing left to offer
            open_offers.update(status=SlotOffer.Status.WITHDRAWN)
        made = _offer_to_next(slot, now, open_offers.count()) if _offerable(slot, now) else []
        held_until = open_offers.order_by("-expires_at").values_list("expires_at", flat=True).first()
        if slot.status == Slot.Status.OPEN and slot.held_until != held_until:
            slot.held_until = held_until
            slot.save(update_fields=["held_until"])
    if made:
        _after_offers(slot_id, made[0].expires_at)
    return made


def _offerable(slot: Slot, now: dt.datetime) -> bool:
    """Open, far enough ahead to book, and freed by a cancellation rather than new."""
    return (
        slot.status == Slot.Status.OPEN
        and slot.starts_at >= booking.earliest_bookable(now)
        and Appointment.objects.filter(slot=slot).exists()
    )


def _offer_to_next(slot: Slot, now: dt.datetime, open_count: int) -> list[SlotOffer]:
    wanted = settings.PORTAL_WAITLIST_OFFER_BATCH - open_count
    if wanted <= 0:
        return []
    expires_at = min(now + dt.timedelta(minutes=settings.PORTAL_WAITLIST_OFFER_MINUTES), slot.starts_at)
    made: list[SlotOffer] = []
    patients: set[int] = set()
    for entry in matching_entries(slot, now).iterator(chunk_size=wanted * 2):
        if entry.patient_id in patients:  # one offer per patient, from their oldest entry
            continue
        patients.add(entry.patient_id)
        made.append(_offer(slot, entry, expires_at))
        if len(made) == wanted:
            break
    return made


def _offer(slot: Slot, entry: WaitlistEntry, expires_at: dt.datetime) -> SlotOffer:
    offer = SlotOffer.objects.create(
        patient=entry.patient,
        slot=slot,
        visit_type=entry.appointment.visit_type,
        kind=SlotOffer.Kind.WAITLIST,
        waitlist_entry=entry,
        expires_at=expires_at,
    )
    tell_patient(
        entry.patient,
        key=str(offer.pk),
        link=reverse("waitlist:offer", args=[offer.pk]),
        compose=lambda: offer_text(offer, slot, entry.appointment),
        topic=TOPIC,
    )
    return offer


def offer_text(offer: SlotOffer, slot: Slot, appointment: Appointment) -> tuple[str, str]:
    """The notice's title and body in the active language: the visit and times, no health detail."""
    campus = slot.campus
    title = _("An earlier time is available for %(name)s") % {"name": offer.patient.given_name}
    body = _(
        "%(visit)s: %(new)s instead of %(old)s. Accept it in the portal before %(deadline)s; "
        "other patients waiting were offered it too, and the first to accept gets it."
    ) % {
        "visit": appointment.visit_type.name,
        "new": campus_time.when_label(slot.starts_at, campus),
        "old": campus_time.when_label(appointment.starts_at, appointment.campus),
        "deadline": campus_time.when_label(offer.expires_at, campus),
    }
    return title, body


def _after_offers(slot_id: int, expires_at: dt.datetime) -> None:
    from portal.scheduling.tasks import schedule_expiry

    schedule_expiry(slot_id, expires_at)


def sweep(now: dt.datetime | None = None) -> int:
    """Catch up on every slot with an overdue open offer (for when no worker ran the
    expiry task in time). Returns how many new offers were made."""
    now = now or timezone.now()
    slot_ids = (
        SlotOffer.objects.filter(
            kind=SlotOffer.Kind.WAITLIST, status=SlotOffer.Status.OPEN, expires_at__lte=now
        )
        .values_list("slot_id", flat=True)
        .distinct()
    )
    return sum(len(refresh_offers(slot_id, now)) for slot_id in list(slot_ids))


# ---------------------------------------------------------------- answering


def offer_is_open(offer: SlotOffer, now: dt.datetime | None = None) -> bool:
    return offer.status == SlotOffer.Status.OPEN and offer.expires_at > (now or timezone.now())


def _locked_open_offer(offer: SlotOffer) -> SlotOffer:
    # The slot first, then the offer: the same order as `refresh_offers`.
    Slot.objects.select_for_update().filter(pk=offer.slot_id).first()
    locked = (
        SlotOffer.objects.select_for_update(of=("self",))
        .select_related("slot", "waitlist_entry__appointment")
        .get(pk=offer.pk)
    )
    if locked.status == SlotOffer.Status.WITHDRAWN:
        raise OfferTaken(_("Someone else accepted this time first, or it is no longer available."))
    if not offer_is_open(locked):
        raise WaitlistRefused(_("This offer has ended: it was answered or its time to accept ran out."))
    return locked


def do_accept_waitlist_offer(actor: Actor, access: PatientAccess, offer: SlotOffer) -> Appointment:
    """Move the waiting appointment to the offered slot, or change nothing.

    Raises `OfferTaken` when another patient won the slot (the offer is then withdrawn)
    and `WaitlistRefused` when the offer has ended or the time no longer suits.
    """
    try:
        with transaction.atomic():
            offer = _locked_open_offer(offer)
            entry = offer.waitlist_entry
            if entry is None:  # a desk's offer for a request is answered on the request's page
                raise WaitlistRefused(_("This offer can no longer be answered here."))
            try:
                # The rules the offer was made under, checked again: the visit may have
                # changed, or another booking may now clash.
                booking.check_bookable(
                    access, offer.slot, offer.visit_type, by_desk=True, replacing=entry.appointment
                )
                moved = booking.do_reschedule_appointment(
                    actor, access, entry.appointment, offer.slot, via=Appointment.Via.WAITLIST, offer=offer
                )
            except booking.BookingRefused as refusal:
                raise WaitlistRefused(refusal.message) from refusal
            record_write(actor, access, "waitlist.accept", obj=moved, detail={"offer": offer.pk})
            return moved
    except booking.SlotTaken as exc:
        SlotOffer.objects.filter(pk=offer.pk, status=SlotOffer.Status.OPEN).update(
            status=SlotOffer.Status.WITHDRAWN, responded_at=timezone.now()
        )
        raise OfferTaken(_("Someone else accepted this time first.")) from exc


@transaction.atomic
def do_decline_waitlist_offer(actor: Actor, access: PatientAccess, offer: SlotOffer) -> SlotOffer:
    """Say no to this time (the patient keeps waiting); the next patient is offered it."""
    offer = _locked_open_offer(offer)
    offer.status = SlotOffer.Status.DECLINED
    offer.responded_at = timezone.now()
    offer.save(update_fields=["status", "responded_at"])
    record_write(actor, access, "waitlist.decline", obj=offer, detail={"slot": offer.slot_id})
    slot_id = offer.slot_id
    transaction.on_commit(lambda: schedule_offers(slot_id))
    return offer
