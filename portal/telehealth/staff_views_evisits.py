"""The review team's side of e-visits: the queue, the review page and its decisions, photos.

Every e-visit is loaded through `telehealth.evisit_access.require_review_evisit`: only active
clinicians of the condition's review team reach it, and never one who is the patient or
acts for them; anyone else (an interpreter or scheduler in the team too) gets the
audited 404 of a missing e-visit. Reads of the
answers, photos, medications and allergies are audited as the reviewer's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from django.contrib import messages
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from portal.accounts.models import signed_in_user
from portal.audit.actor import Actor
from portal.audit.log import Kind, record
from portal.messaging import roles
from portal.messaging.confidential import category_name
from portal.organization.models import Campus, CareTeam
from portal.patients.access import PatientAccess, record_read, refuse
from portal.records.access import visible
from portal.records.models import Allergy, Medication
from portal.scheduling.questionnaires import readable
from portal.staff.decorators import staff_page
from portal.telehealth import evisit_review
from portal.telehealth.evisit_access import require_review_evisit, review_queue
from portal.telehealth.evisit_review import ReviewRefused, campus_of, local_today
from portal.telehealth.forms_evisit_review import QueueFilterForm, RedirectForm, ReplyForm
from portal.telehealth.models import EVisit
from portal.telehealth.photos import photo_response
from portal.telehealth.phrases_evisits import evisit_action

QUEUE_SIZE = 50
# A record list on the review page is context for the answer, not the whole record.
RECORD_ROWS = 50
Status = EVisit.Status


@dataclass(frozen=True)
class QueueRow:
    """One open e-visit in the queue, with what the row shows about it."""

    evisit: EVisit
    campus: Campus | None
    age: int


def reviews_evisits(user: Any) -> bool:
    """An active clinician in any e-visit condition's review team: who has the queue at all."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return CareTeam.objects.filter(
        evisit_conditions__isnull=False,
        members__user=user,
        members__active=True,
        members__role__in=sorted(roles.CLINICAL_ROLES),
    ).exists()


@require_safe
@staff_page
def queue(request: HttpRequest) -> HttpResponse:
    """Open e-visits of the user's review teams, oldest first: the order to answer them in."""
    user = signed_in_user(request)
    if not reviews_evisits(user):
        raise Http404
    form = QueueFilterForm(request.GET or None)
    show = form.choice()
    rows = review_queue(user).filter(status__in=EVisit.OPEN_STATUSES)
    if show == QueueFilterForm.SHOW_UNCLAIMED:
        rows = rows.filter(status=Status.SUBMITTED)
    elif show == QueueFilterForm.SHOW_MINE:
        rows = rows.filter(status=Status.IN_REVIEW, reviewer=user)
    rows = rows.select_related(
        "patient__primary_campus", "condition__review_team__campus", "reviewer__practitioner"
    ).order_by("submitted_at", "pk")
    found = list(rows[: QUEUE_SIZE + 1])
    shown = found[:QUEUE_SIZE]
    record(
        Actor.from_request(request),
        "telehealth.evisit_list",
        kind=Kind.READ,
        role="staff",
        detail={"patients": sorted({row.patient_id for row in shown}), "rows": [row.pk for row in shown]},
    )
    context = {
        "form": form,
        "show": show,
        "rows": [
            QueueRow(evisit, campus_of(evisit), evisit.patient.age_on(local_today(evisit)))
            for evisit in shown
        ],
        "more": len(found) > QUEUE_SIZE,
        "queue_size": QUEUE_SIZE,
    }
    return render(request, "telehealth/staff/evisit_queue.html", context)


def _review_page(
    request: HttpRequest,
    evisit: EVisit,
    access: PatientAccess,
    *,
    reply_form: ReplyForm | None = None,
    redirect_form: RedirectForm | None = None,
    status: int = 200,
) -> HttpResponse:
    user = signed_in_user(request)
    prescribes = roles.prescribes(user)
    medications = list(
        visible(Medication, access)
        .filter(status__in=(Medication.Status.ACTIVE, Medication.Status.ON_HOLD))
        .order_by("name", "pk")[:RECORD_ROWS]
    )
    allergies = list(
        visible(Allergy, access)
        .filter(status=Allergy.Status.ACTIVE)
        .order_by("substance", "pk")[:RECORD_ROWS]
    )
    record_read(request, access, evisit_action(evisit, "telehealth.evisit_view"), evisit)
    record_read(request, access, "records.medications_view", count=len(medications))
    record_read(request, access, "records.allergies_view", count=len(allergies))
    context = {
        "evisit": evisit,
        "patient": evisit.patient,
        "campus": campus_of(evisit),
        "age": evisit.patient.age_on(local_today(evisit)),
        "answers": readable(evisit.answers),
        "photos": list(evisit.photos.order_by("pk")),
        "medications": medications,
        "allergies": allergies,
        "record_rows": RECORD_ROWS,
        "mine": evisit.status == Status.IN_REVIEW and evisit.reviewer_id == user.pk,
        "prescribes": prescribes,
        "reply_form": reply_form or ReplyForm(prefix="reply", prescribes=prescribes),
        "redirect_form": redirect_form or RedirectForm(prefix="redirect"),
        "answered": _answered(evisit),
        "confidential_name": category_name(evisit.sensitivity) if evisit.sensitivity else "",
    }
    return render(request, "telehealth/staff/evisit_review.html", context, status=status)


def _answered(evisit: EVisit) -> dict[str, Any] | None:
    """What the reply made (for the read-only view once it is sent), in one query each."""
    if evisit.status not in (Status.COMPLETED, Status.REDIRECTED):
        return None
    found = (
        EVisit.objects.select_related(
            "medication", "referral__specialty", "service_line", "reviewer__practitioner"
        )
        .filter(pk=evisit.pk)
        .first()
    )
    if found is None:
        return None
    return {
        "medication": found.medication,
        "referral": found.referral,
        "service_line": found.service_line,
        "reviewer": found.reviewer,
    }


@require_safe
@staff_page
def review(request: HttpRequest, evisit_id: int) -> HttpResponse:
    evisit, access = require_review_evisit(request, evisit_id)
    return _review_page(request, evisit, access)


@require_POST
@staff_page
def claim(request: HttpRequest, evisit_id: int) -> HttpResponse:
    """Start reviewing the e-visit, or (with action=release) give it back to the queue."""
    evisit, access = require_review_evisit(request, evisit_id)
    actor = Actor.from_request(request)
    releasing = request.POST.get("action") == "release"
    try:
        if releasing:
            evisit_review.do_release_evisit(actor, access, evisit)
        else:
            evisit_review.do_claim_evisit(actor, access, evisit)
    except ReviewRefused as refusal:
        messages.error(request, refusal.message)
        return redirect("staff_evisits:review", evisit_id=evisit.pk)
    if releasing:
        messages.success(request, _("The e-visit is back in the queue for the review team."))
        return redirect("staff_evisits:queue")
    messages.success(
        request, _("You are reviewing this e-visit. Nobody else can answer it until you release it.")
    )
    return redirect("staff_evisits:review", evisit_id=evisit.pk)


def _refused(form: Form, refusal: ReviewRefused) -> None:
    form.add_error(None, refusal.message)


@require_POST
@staff_page
def reply(request: HttpRequest, evisit_id: int) -> HttpResponse:
    evisit, access = require_review_evisit(request, evisit_id)
    form = ReplyForm(request.POST, prefix="reply", prescribes=roles.prescribes(signed_in_user(request)))
    if form.is_valid():
        try:
            replied = evisit_review.do_reply_evisit(
                Actor.from_request(request),
                access,
                evisit,
                assessment=form.cleaned_data["assessment"],
                plan=form.cleaned_data["plan"],
                prescription=form.prescription(),
                referral=form.referral(),
            )
        except ReviewRefused as refusal:
            _refused(form, refusal)
        else:
            if replied:
                messages.success(
                    request, _("Your reply was sent to the patient and the e-visit was charged.")
                )
            else:
                messages.info(request, _("You had already answered this e-visit."))
            return redirect("staff_evisits:review", evisit_id=evisit.pk)
    evisit.refresh_from_db()
    return _review_page(request, evisit, access, reply_form=form, status=400)


@require_POST
@staff_page
def redirect_to_visit(request: HttpRequest, evisit_id: int) -> HttpResponse:
    """The problem needs a visit: tell the patient so, without charging the e-visit."""
    evisit, access = require_review_evisit(request, evisit_id)
    form = RedirectForm(request.POST, prefix="redirect")
    if form.is_valid():
        try:
            done = evisit_review.do_redirect_evisit(
                Actor.from_request(request), access, evisit, message=form.cleaned_data["message"]
            )
        except ReviewRefused as refusal:
            _refused(form, refusal)
        else:
            if done:
                messages.success(
                    request, _("The patient was told they need a visit. The e-visit is not charged.")
                )
            else:
                messages.info(request, _("You had already asked for a visit instead."))
            return redirect("staff_evisits:review", evisit_id=evisit.pk)
    evisit.refresh_from_db()
    return _review_page(request, evisit, access, redirect_form=form, status=400)


@require_safe
@staff_page
def photo(request: HttpRequest, evisit_id: int, photo_id: int) -> HttpResponse:
    """One of the e-visit's photos, always as a download (never shown inside the portal)."""
    evisit, access = require_review_evisit(request, evisit_id)
    found = evisit.photos.filter(pk=photo_id).first()
    if found is None:
        refuse(request, evisit.patient, what="telehealth.evisitphoto", lookup=str(photo_id))
        raise Http404  # `refuse` has raised it already
    record_read(
        request, access, evisit_action(evisit, "telehealth.evisit_photo_view"), evisit, photo=found.pk
    )
    # A streamed file, which the staff decorators pass through like any response.
    return cast(HttpResponse, photo_response(found))
