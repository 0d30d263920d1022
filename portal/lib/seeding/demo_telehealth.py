"""Video visits and e-visits for the demo, ready to try the moment `portal demo` starts.

demo-patient (Jamie) has a video visit with demo-clinician (Dr Priya Raman, Family
Medicine, Rochester) starting about ten minutes after seeding, so it can be joined at
once (a visit opens `PORTAL_VIDEO_OPENS_MINUTES_BEFORE` minutes before it starts), and
another tomorrow. demo-parent's daughter Mia has one with the same clinician at the same
time, for the parent to join as her proxy: the clinician's waiting room then shows both.
The clinic's e-visit conditions (cold and flu symptoms, urinary symptoms, rash, back
pain) come with their questionnaires and red flags, priced as CPT 99421 and answered by
the demo clinician's care team. Jamie has one e-visit answered (and charged) and one,
with a photo, waiting for a clinician.

The "starting soon" visits are fitted in on top of the clinician's schedule, without a
slot, because the demo must be joinable whatever the hour; the clinician's open slots
they overlap are blocked so nobody books that time. Tomorrow's takes one of the
clinician's open video slots when there is one, through `booking.claim_slot`.

Re-runs: a "starting soon" visit is kept while it is live (booked or checked in, its
call not ended) and started less than `STALE_AFTER` ago, tomorrow's while it is still
ahead; otherwise a re-run (`portal demo` on a later day) adds a fresh one, keyed by its
start ("demo:jamie:video-soon:202601141530"). Conditions and questionnaires are matched
by slug and never overwritten (the clinic may have edited them in the admin); Jamie's
e-visits are added only if Jamie has none for that condition, so what the demo users
have since done is left alone. Like the demo appointments these rows are loaded
directly, not through the actions: nobody did them, so they write no audit events. The
answered e-visit is still charged through `statements.add_service_line` with the form
key the reply charges under (`evisit-<pk>`), so it can be charged only once.

Run after `seed_demo_billing`, which bills only accounts that have no services yet.
"""

from __future__ import annotations

import datetime as dt
import io
import uuid
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from PIL import Image, ImageDraw

from portal.accounts.models import User
from portal.billing import statements
from portal.billing.ledger import account_for
from portal.billing.models import LedgerEntry, ServiceLine
from portal.lib.seeding.billing_prices import seed_price_list
from portal.lib.seeding.demo_users import DEMO_CHILD_NUMBER, DEMO_PATIENT_NUMBER, FAMILY_TEAM, DemoRefused
from portal.lib.seeding.evisit_conditions import seed_evisit_conditions
from portal.lib.seeding.schedules import team_place
from portal.messaging.confidential import most_sensitive
from portal.organization.models import CareTeam, Practitioner
from portal.patients.models import Patient
from portal.records.models import ClinicalNote
from portal.scheduling.booking import appointment_in, claim_slot
from portal.scheduling.models import Appointment, Mode, Slot, VisitType
from portal.scheduling.reminders import queue_reminders
from portal.telehealth.access import LIVE_STATUSES
from portal.telehealth.evisit_review import campus_of
from portal.telehealth.evisits import evisit_price
from portal.telehealth.models import EVisit, EVisitCondition, EVisitPhoto, VideoVisit

DAY = dt.timedelta(days=1)
HOUR = dt.timedelta(hours=1)
MINUTE = dt.timedelta(minutes=1)
SOON = dt.timedelta(minutes=10)
# A re-run keeps a "starting soon" visit until it has been under way this long.
STALE_AFTER = dt.timedelta(minutes=10)
ROCHESTER = ZoneInfo("America/Chicago")


@dataclass(frozen=True)
class Added:
    """What one run added."""

    video_visits: int = 0
    conditions: int = 0
    evisits: int = 0

    @property
    def summary(self) -> str:
        return (
            f"{self.video_visits} demo video visits, {self.conditions} e-visit conditions "
            f"and {self.evisits} demo e-visits added."
        )


def seed_demo_telehealth(now: dt.datetime | None = None) -> Added:
    """Give the demo sign-ins their video visits and e-visits (see the module docstring).

    The demo sign-ins must exist (`demo_users.create_demo_users`).
    """
    if settings.PRODUCTION:
        raise DemoRefused("Demo video visits and e-visits are never created in production.")
    now = now or timezone.now()
    patients = {
        patient.clinic_number: patient
        for patient in Patient.objects.filter(clinic_number__in=(DEMO_PATIENT_NUMBER, DEMO_CHILD_NUMBER))
    }
    clinician = Practitioner.objects.filter(user__username="demo-clinician").select_related("user").first()
    team = CareTeam.objects.filter(slug=FAMILY_TEAM).select_related("campus", "department").first()
    if len(patients) < 2 or clinician is None or team is None:
        return Added()
    jamie, mia = patients[DEMO_PATIENT_NUMBER], patients[DEMO_CHILD_NUMBER]
    with transaction.atomic():
        seed_price_list()
        visit_type = video_visit_type(team)
        desk = User.objects.filter(username="demo-scheduler").first()
        book = Booking(clinician, team, visit_type, desk, now)
        visits = book.soon(jamie, "demo:jamie:video-soon", "Blood pressure readings from home: a review.")
        visits += book.soon(mia, "demo:mia:video-soon", "Asthma: how the new inhaler is working.")
        visits += book.tomorrow(jamie, "demo:jamie:video-next", "Cholesterol results and what to do next.")
        conditions = seed_evisit_conditions(team)
        evisits = _jamie_evisits(jamie, clinician, now)
    return Added(visits, conditions, evisits)


def video_visit_type(team: CareTeam) -> VisitType:
    """The department's video follow-up, or a "Video visit" type made for it if it has no video type."""
    department = team_place(team)[1]
    found = VisitType.objects.filter(department=department, mode=Mode.VIDEO, active=True)
    visit_type = (
        found.filter(slug=f"video-follow-up-{department.slug}").first() or found.order_by("pk").first()
    )
    if visit_type is not None:
        return visit_type
    visit_type, _created = VisitType.objects.get_or_create(
        slug=f"video-visit-{department.slug}",
        defaults={
            "name": "Video visit",
            "description": "A visit by secure video from home, for a problem that needs no examination.",
            "department": department,
            "duration_minutes": 30,
            "mode": Mode.VIDEO,
            "preparation": "Find a quiet, private place with a good connection.",
        },
    )
    return visit_type


@dataclass(frozen=True)
class Booking:
    """Books the demo's video visits with the demo clinician, in their team's department."""

    clinician: Practitioner
    team: CareTeam
    visit_type: VisitType
    desk: User | None  # who fits visits in: the Rochester scheduling desk
    now: dt.datetime

    def soon(self, patient: Patient, key: str, reason: str) -> int:
        """A visit starting in about ten minutes, unless a live one is still fresh; returns 1 if added."""
        fresh = self._live(patient, key).filter(starts_at__gte=self.now - STALE_AFTER)
        if fresh.exists():
            return 0
        # Early enough that it is open at once, whatever the window is set to.
        lead = min(SOON, dt.timedelta(minutes=settings.PORTAL_VIDEO_OPENS_MINUTES_BEFORE))
        starts_at = (self.now + lead).replace(second=0, microsecond=0)
        self._fitted_in(patient, key, starts_at, reason)
        return 1

    def tomorrow(self, patient: Patient, key: str, reason: str) -> int:
        """A visit about a day ahead in one of the clinician's open slots, unless one is still ahead."""
        if self._live(patient, key).filter(starts_at__gt=self.now).exists():
            return 0
        target = self.now + DAY
        open_slots = Slot.objects.filter(
            practitioner=self.clinician,
            status=Slot.Status.OPEN,
            held_until__isnull=True,
            starts_at__range=(target - 6 * HOUR, target + 6 * HOUR),
            template__visit_types=self.visit_type,
        )
        fitting = [slot for slot in open_slots if slot.minutes >= self.visit_type.duration_minutes]
        slot = min(fitting, key=lambda slot: abs(slot.starts_at - target), default=None)
        if slot is None or not claim_slot(slot.pk):
            self._fitted_in(patient, key, target.replace(second=0, microsecond=0), reason)
            return 1
        appointment = appointment_in(
            slot, patient, self.visit_type, via=Appointment.Via.SELF, reason=reason,
            booked_by=patient.account, source_id=f"{key}:{slot.starts_at:%Y%m%d%H%M}",
        )  # fmt: skip
        appointment.save()
        queue_reminders(appointment)
        return 1

    def _live(self, patient: Patient, key: str) -> QuerySet[Appointment]:
        live = Appointment.objects.filter(
            patient=patient, source_id__startswith=f"{key}:", status__in=LIVE_STATUSES
        )
        return live.exclude(video_visit__status=VideoVisit.Status.ENDED)

    def _fitted_in(self, patient: Patient, key: str, starts_at: dt.datetime, reason: str) -> Appointment:
        """An appointment outside the schedule's slots, as a desk fits one in; the open slots it
        overlaps are blocked so nobody else books the clinician then."""
        campus, department = team_place(self.team)
        ends_at = starts_at + dt.timedelta(minutes=self.visit_type.duration_minutes)
        Slot.objects.filter(
            practitioner=self.clinician, status=Slot.Status.OPEN, starts_at__lt=ends_at, ends_at__gt=starts_at
        ).update(status=Slot.Status.BLOCKED)
        appointment = Appointment.objects.create(
            patient=patient,
            visit_type=self.visit_type,
            practitioner=self.clinician,
            campus=campus,
            department=department,
            starts_at=starts_at,
            ends_at=ends_at,
            mode=Mode.VIDEO,
            reason=reason,
            booked_via=Appointment.Via.DESK,
            booked_by=self.desk,
            source_id=f"{key}:{starts_at:%Y%m%d%H%M}",
        )
        queue_reminders(appointment)
        return appointment


# Jamie's e-visits ------------------------------------------------------------------------------

COLD_ANSWERS = {
    "days": 4, "main": "Cough", "fever": True, "breathing": False, "chest": False, "fluids": True,
    "lungs": False, "notes": "Half my office had the same cold last week. The cough keeps me awake at night.",
}  # fmt: skip
COLD_ASSESSMENT = (
    "A viral upper respiratory infection (a common cold) in its fourth day. Nothing in your answers "
    "suggests pneumonia or a bacterial infection, so antibiotics would not help."
)
COLD_PLAN = (
    "Rest and drink plenty. Acetaminophen or ibuprofen for the fever and aches (as on the packet). "
    "Honey in warm water or tea, and an extra pillow, can ease the night-time cough. Most colds clear "
    "in 7 to 10 days; the cough may last up to three weeks. Book a visit if the fever lasts more than "
    "3 more days or you feel worse after getting better. Call 911 if you have trouble breathing."
)
RASH_ANSWERS = {
    "where": "Arms or legs", "days": 3, "swelling": False, "fever": False, "itch": "A lot", "new": True,
    "notes": "Red itchy patches on both forearms since we switched to a new laundry detergent.",
}  # fmt: skip


def _jamie_evisits(jamie: Patient, clinician: Practitioner, now: dt.datetime) -> int:
    conditions = {
        condition.slug: condition for condition in EVisitCondition.objects.select_related("questionnaire")
    }
    seen = set(EVisit.objects.filter(patient=jamie).values_list("condition__slug", flat=True))
    author = jamie.account
    added = 0
    if author is None:
        return added
    if "cold-and-flu" in conditions and "cold-and-flu" not in seen:
        _answered_cold(
            _evisit(author, jamie, conditions["cold-and-flu"], COLD_ANSWERS, now - 3 * DAY), clinician
        )
        added += 1
    if "rash" in conditions and "rash" not in seen:
        _waiting_rash(_evisit(author, jamie, conditions["rash"], RASH_ANSWERS, now - 2 * HOUR))
        added += 1
    return added


def _answered_cold(evisit: EVisit, clinician: Practitioner) -> None:
    """Sent three days ago, answered by the demo clinician the next day, and charged then."""
    condition, submitted = evisit.condition, evisit.submitted_at or evisit.created_at
    claimed = submitted + 22 * HOUR
    replied = claimed + 12 * MINUTE
    evisit.status = EVisit.Status.COMPLETED
    evisit.reviewer, evisit.claimed_at, evisit.replied_at = clinician.user, claimed, replied
    evisit.assessment, evisit.plan = COLD_ASSESSMENT, COLD_PLAN
    campus = campus_of(evisit)
    # As the reply does: the charge at the price the patient saw, and a note in the record.
    line = statements.add_service_line(
        account_for(evisit.patient),
        service_date=replied.astimezone(campus.zone if campus else ROCHESTER).date(),
        code=evisit.price_code,
        description=evisit.price_description,
        sensitivity=most_sensitive([evisit.sensitivity, evisit.price_item.sensitivity]),
        charge_cents=evisit.price_cents,
        posted_by=clinician.user,
        form_key=f"evisit-{evisit.pk}",
        campus=campus,
        visit_label="E-visit",
    )
    ClinicalNote.objects.create(
        patient=evisit.patient,
        entered_by=clinician.user,
        kind=ClinicalNote.Kind.PROGRESS_NOTE,
        title=f"E-visit: {condition.name}",
        body=f"Assessment:\n{COLD_ASSESSMENT}\n\nPlan:\n{COLD_PLAN}",
        written_at=replied,
        author=clinician,
        author_name=clinician.display_name,
        sensitivity=evisit.sensitivity,
        source_id=f"demo:evisit:{evisit.pk}",
    )
    ServiceLine.objects.filter(pk=line.pk).update(created_at=replied)
    LedgerEntry.objects.filter(service_line=line).update(posted_at=replied)
    evisit.service_line = line
    evisit.save()
    EVisit.objects.filter(pk=evisit.pk).update(created_at=submitted - 6 * MINUTE, updated_at=replied)


def _waiting_rash(evisit: EVisit) -> None:
    """Sent two hours ago with a photo of the rash; no clinician has opened it yet."""
    submitted = evisit.submitted_at or evisit.created_at
    photo = EVisitPhoto(
        evisit=evisit, name="rash-forearm.jpg", content_type="image/jpeg", uploaded_by=evisit.started_by
    )
    content = _rash_photo()
    photo.size = len(content)
    # A random stored name, as uploads get: the file is served only through the access policy.
    photo.file.save(f"{uuid.uuid4().hex}.jpg", ContentFile(content), save=False)
    photo.save()
    EVisitPhoto.objects.filter(pk=photo.pk).update(uploaded_at=submitted - 2 * MINUTE)
    EVisit.objects.filter(pk=evisit.pk).update(created_at=submitted - 8 * MINUTE, updated_at=submitted)


def _evisit(
    author: User,
    patient: Patient,
    condition: EVisitCondition,
    answers: dict[str, Any],
    submitted: dt.datetime,
) -> EVisit:
    """An e-visit sent at `submitted` with these answers (by linkId), at the price shown then."""
    evisit = EVisit(
        patient=patient,
        condition=condition,
        status=EVisit.Status.SUBMITTED,
        answers=response_items(condition.questionnaire.items, answers),
        sensitivity=condition.sensitivity,
        started_by=author,
        submitted_at=submitted,
    )
    evisit.freeze_price(condition.price_item, evisit_price(condition))
    evisit.save()
    return evisit


def response_items(questions: list[dict[str, Any]], answers: dict[str, Any]) -> list[dict[str, Any]]:
    """Answers by linkId as QuestionnaireResponse items, as the questionnaire form saves them."""
    items = []
    for question in questions:
        value = answers.get(question["linkId"])
        if value is None:
            continue
        key = {"boolean": "valueBoolean", "integer": "valueInteger"}.get(question["type"], "valueString")
        items.append({"linkId": question["linkId"], "answer": [{key: value}], "text": question["text"]})
    return items


def _rash_photo() -> bytes:
    """A picture standing in for a photo of an itchy rash on a forearm."""
    image = Image.new("RGB", (640, 420), (224, 182, 150))
    draw = ImageDraw.Draw(image)
    patches = ((120, 110, 60), (260, 170, 80), (410, 120, 55), (330, 290, 70), (180, 280, 45), (500, 250, 50))
    for x, y, radius in patches:
        draw.ellipse((x - radius, y - radius * 0.7, x + radius, y + radius * 0.7), fill=(205, 112, 105))
        draw.ellipse((x - radius / 2, y - radius / 3, x + radius / 2, y + radius / 3), fill=(196, 96, 92))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()
