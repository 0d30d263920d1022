"""The record in the staff workspace: results (held ones too), notes, corrections, correction
requests and the clinic's hold rules.

Patients are loaded with `require_patient(..., Scope.VIEW)`, so only staff caring for the
patient (or with break-glass access) get further than the 404 a missing patient gets;
their rows come from `records/access.py` like the patient's own pages. Writes also need a
clinical role: an interpreter may read the record but not change it.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from portal.accounts.models import User, signed_in_user
from portal.audit.actor import Actor
from portal.audit.log import Kind, record
from portal.organization.models import Practitioner
from portal.patients.access import (
    ROLE_SCOPES,
    PatientAccess,
    record_read,
    refuse,
    require_object,
    require_patient,
    serves_every_patient,
    staff_patients,
)
from portal.patients.models import CareRelationship, Patient, Scope
from portal.records import actions
from portal.records.access import get_visible, visible, visible_observations, visible_reports
from portal.records.amendment_views import ANSWER_WITHIN_DAYS, item_section, visible_items
from portal.records.models import (
    AmendmentRequest,
    ClinicalNote,
    Correction,
    Observation,
    RecordItem,
    ReleaseHoldRule,
    ResultReport,
)
from portal.records.sections import CORRECTABLE
from portal.records.staff_forms import (
    AcceptForm,
    DenyForm,
    EnteredInErrorForm,
    HoldRuleForm,
    NoteCorrectionForm,
    NoteForm,
    ObservationCorrectionForm,
    ObservationFormSet,
    ResultReportForm,
    observation_entries,
    value_count_errors,
)
from portal.staff.decorators import staff_page

RECORD_ROWS = 50
RECENT_ROWS = 20
QUEUE_ROWS = 100
HOLD_RULES_SHOWN = 50
# Fields of an item that say nothing to someone checking a correction request.
INTERNAL_FIELDS = frozenset(
    {
        "id",
        "patient",
        "source_id",
        "entered_by",
        "created_at",
        "updated_at",
        "file",
        "sha256",
        "size",
        "content_type",
        "position",
        "study_uid",
        "report",
        "encounter",
        "campus",
        "department",
    }
)


# Loading ---------------------------------------------------------------------------------


def _staff_access(request: HttpRequest, patient_id: object) -> PatientAccess:
    """The patient named in the URL, for staff who may view their record; else the audited 404."""
    access = require_patient(request, patient_id, Scope.VIEW)
    if not access.is_staff_access:
        # A member of staff who is also this patient uses the patient pages for their own record.
        refuse(request, access.patient, what="patients.patient", lookup=str(patient_id))
    return access


def _practitioner(request: HttpRequest) -> Practitioner:
    return signed_in_user(request).practitioner


def _may_write(request: HttpRequest) -> bool:
    return _practitioner(request).is_clinical


def _not_clinical(request: HttpRequest, access: PatientAccess | None = None) -> HttpResponse:
    return render(request, "records/staff_not_clinical.html", {"access": access}, status=403)


def record_patients(user: User) -> QuerySet[Patient]:
    """Patients whose record this member of staff reads without breaking glass: for the queues.

    Office membership (a scheduling desk, say) reaches every patient for that office's
    work, not for the record, so only care-team patients count, and only for a role
    that may view the record.
    """
    practitioner = Practitioner.objects.filter(user=user, active=True).first()
    if practitioner is None or Scope.VIEW not in ROLE_SCOPES.get(practitioner.role, frozenset()):
        return Patient.objects.none()
    patients = staff_patients(user)
    if serves_every_patient(user):
        today = timezone.now().date()
        cared = CareRelationship.objects.filter(
            Q(ends_on__isnull=True) | Q(ends_on__gte=today),
            care_team__members=practitioner,
            starts_on__lte=today,
        )
        patients = patients.filter(pk__in=cared.values("patient_id"))
    return patients


def _campus_zone(patient: Patient) -> ZoneInfo:
    try:
        return ZoneInfo(patient.primary_campus.time_zone)
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def _back(request: HttpRequest, access: PatientAccess, report: ResultReport) -> HttpResponse:
    """Where a release or review returns to: a fixed set of pages, never a typed URL."""
    back = request.POST.get("back")
    if back == "held":
        return redirect("staff_records:held")
    if back == "result":
        return redirect("staff_records:result", patient_id=access.patient.pk, report_id=report.pk)
    return redirect("staff_records:record", patient_id=access.patient.pk)


History = list[tuple[Correction, list[tuple[str, str]]]]


def corrections_of(items: list[RecordItem]) -> dict[int, History]:
    """Each item's corrections, newest first, with what it said before, in one query (one model)."""
    if not items:
        return {}
    model = type(items[0])
    rows = Correction.objects.filter(
        patient_id=items[0].patient_id,
        item_type=model._meta.label_lower,
        item_id__in=[item.pk for item in items],
    ).select_related("corrected_by")
    found: dict[int, History] = {}
    for correction in rows:
        found.setdefault(correction.item_id, []).append((correction, previous_facts(model, correction)))
    return found


def previous_facts(model: type[models.Model], correction: Correction) -> list[tuple[str, str]]:
    """The earlier values a correction kept, labelled as the record labels them."""
    facts: list[tuple[str, str]] = []
    previous = correction.previous if isinstance(correction.previous, dict) else {}
    for name, value in previous.items():
        if value in (None, ""):
            continue
        try:
            field = model._meta.get_field(name)
        except FieldDoesNotExist:
            continue
        text = str(value)
        choices = dict(getattr(field, "choices", None) or [])
        if text in choices:
            text = str(choices[text])
        facts.append((capfirst(str(getattr(field, "verbose_name", name))), text))
    return facts


# The patient's record --------------------------------------------------------------------


@staff_page
def record_page(request: HttpRequest, patient_id: int) -> HttpResponse:
    """The patient's record for staff: results (held ones marked), notes, corrections, requests."""
    access = _staff_access(request, patient_id)
    patient = access.patient
    reports = list(visible_reports(access).select_related("reviewed_by")[:RECORD_ROWS])
    notes = list(visible(ClinicalNote, access)[:RECORD_ROWS])
    corrections = list(
        Correction.objects.filter(patient=patient).select_related("corrected_by")[:RECENT_ROWS]
    )
    amendments = list(AmendmentRequest.objects.filter(patient=patient)[:RECENT_ROWS])
    record_read(request, access, "records.staff_record_view")
    context = {
        "access": access,
        "patient": patient,
        "reports": reports,
        "notes": notes,
        "corrections": [(correction, item_section(correction.item_type)) for correction in corrections],
        "amendments": amendments,
        "may_write": _may_write(request),
        "rows": RECORD_ROWS,
    }
    return render(request, "records/staff_record.html", context)


@staff_page
def result_page(request: HttpRequest, patient_id: int, report_id: int) -> HttpResponse:
    """One report with its values and each value's correction history."""
    access = _staff_access(request, patient_id)
    report = get_visible(
        request, visible_reports(access).select_related("released_by", "reviewed_by"), access, report_id
    )
    observations = list(visible_observations(access).filter(report=report))
    history = corrections_of(list(observations))
    record_read(request, access, "records.staff_result_view", obj=report)
    context = {
        "access": access,
        "patient": access.patient,
        "report": report,
        "values": [(observation, history.get(observation.pk, [])) for observation in observations],
        "may_write": _may_write(request),
    }
    return render(request, "records/staff_result.html", context)


# Entering results and notes --------------------------------------------------------------


@staff_page
def new_result(request: HttpRequest, patient_id: int) -> HttpResponse:
    """Type in a result (for practices without a lab interface); the clinic's hold rule applies."""
    access = _staff_access(request, patient_id)
    if not _may_write(request):
        return _not_clinical(request, access)
    me = _practitioner(request)
    clinicians = Practitioner.objects.filter(active=True, role__in=Practitioner.CLINICAL_ROLES)
    data = request.POST if request.method == "POST" else None
    initial = {
        "ordered_by": me.pk,
        "category": ResultReport.Category.LAB,
        "status": ResultReport.Status.FINAL,
    }
    form = ResultReportForm(data, clinicians=clinicians, initial=initial)
    values = ObservationFormSet(data, prefix="values", error_messages=value_count_errors())
    if data is not None:
        with timezone.override(_campus_zone(access.patient)):
            valid = form.is_valid()
        if values.is_valid() and valid:
            cleaned = form.cleaned_data
            entry = actions.ResultEntry(
                name=cleaned["name"],
                code=cleaned["code"],
                category=cleaned["category"],
                effective_at=cleaned["effective_at"],
                status=cleaned["status"],
                ordered_by=cleaned["ordered_by"],
                conclusion=cleaned["conclusion"],
                sensitivity=cleaned["sensitivity"],
                observations=observation_entries(values),
            )
            report = actions.do_enter_result(Actor.from_request(request), access, entry)
            if report.is_held:
                messages.success(request, _("Result saved. It is held for review under the clinic's rule."))
            else:
                messages.success(request, _("Result saved. The patient can see it now."))
            return redirect("staff_records:result", patient_id=access.patient.pk, report_id=report.pk)
    context = {
        "access": access,
        "patient": access.patient,
        "form": form,
        "values": values,
        "rules": list(ReleaseHoldRule.objects.filter(active=True)),
    }
    return render(request, "records/staff_result_new.html", context)


@staff_page
def new_note(request: HttpRequest, patient_id: int) -> HttpResponse:
    access = _staff_access(request, patient_id)
    if not _may_write(request):
        return _not_clinical(request, access)
    form = NoteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        actions.do_enter_note(
            Actor.from_request(request),
            access,
            data["kind"],
            data["title"],
            data["body"],
            sensitivity=data["sensitivity"],
        )
        messages.success(request, _("Note saved. The patient can read it now."))
        return redirect("staff_records:record", patient_id=access.patient.pk)
    return render(
        request, "records/staff_note_new.html", {"access": access, "patient": access.patient, "form": form}
    )


# Correcting ------------------------------------------------------------------------------


def _observation_initial(observation: Observation) -> dict[str, Any]:
    number = observation.value_number
    return {
        "value": format(number.normalize(), "f") if number is not None else observation.value_text,
        "unit": observation.unit,
        "range_low": observation.range_low,
        "range_high": observation.range_high,
        "interpretation": "",
    }


@staff_page
def correct_observation(request: HttpRequest, patient_id: int, observation_id: int) -> HttpResponse:
    """Correct one value; what it said before is kept and shown as its history."""
    access = _staff_access(request, patient_id)
    observation = get_visible(
        request, visible_observations(access).select_related("report"), access, observation_id
    )
    if not _may_write(request):
        return _not_clinical(request, access)
    form = ObservationCorrectionForm(request.POST or None, initial=_observation_initial(observation))
    if request.method == "POST" and form.is_valid():
        actions.do_correct_observation(
            Actor.from_request(request), access, observation, form.change(), form.cleaned_data["reason"]
        )
        messages.success(request, _("Result corrected. The patient is told, and sees the earlier value."))
        if observation.report_id is None:
            return redirect("staff_records:record", patient_id=access.patient.pk)
        return redirect("staff_records:result", patient_id=access.patient.pk, report_id=observation.report_id)
    record_read(request, access, "records.staff_observation_view", obj=observation)
    context = {
        "access": access,
        "patient": access.patient,
        "observation": observation,
        "history": corrections_of([observation]).get(observation.pk, []),
        "form": form,
    }
    return render(request, "records/staff_observation_correct.html", context)


def _note_page(
    request: HttpRequest,
    access: PatientAccess,
    note: ClinicalNote,
    form: NoteCorrectionForm,
    error_form: EnteredInErrorForm,
    status: int = 200,
) -> HttpResponse:
    record_read(request, access, "records.staff_note_view", obj=note)
    context = {
        "access": access,
        "patient": access.patient,
        "note": note,
        "history": corrections_of([note]).get(note.pk, []),
        "form": form,
        "error_form": error_form,
    }
    return render(request, "records/staff_note_correct.html", context, status=status)


def _note_for_writing(
    request: HttpRequest, patient_id: int, note_id: int
) -> tuple[PatientAccess, ClinicalNote]:
    access = _staff_access(request, patient_id)
    note = get_visible(request, visible(ClinicalNote, access), access, note_id)
    return access, note


@staff_page
def correct_note(request: HttpRequest, patient_id: int, note_id: int) -> HttpResponse:
    """Amend a note's text; the earlier text is kept as its history."""
    access, note = _note_for_writing(request, patient_id, note_id)
    if not _may_write(request):
        return _not_clinical(request, access)
    form = NoteCorrectionForm(request.POST or None, initial={"title": note.title, "body": note.body})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            actions.do_correct_note(
                Actor.from_request(request), access, note, data["title"], data["body"], data["reason"]
            )
        except actions.RecordChangeRefused as refusal:
            form.add_error(None, str(refusal))
        else:
            messages.success(request, _("Note corrected. The patient is told, and sees the earlier text."))
            return redirect("staff_records:record", patient_id=access.patient.pk)
    return _note_page(request, access, note, form, EnteredInErrorForm(prefix="error"))


@staff_page
@require_POST
def note_in_error(request: HttpRequest, patient_id: int, note_id: int) -> HttpResponse:
    """Mark a note as entered in error (wrong patient, say). Its text stays in the history."""
    access, note = _note_for_writing(request, patient_id, note_id)
    if not _may_write(request):
        return _not_clinical(request, access)
    error_form = EnteredInErrorForm(request.POST, prefix="error")
    if error_form.is_valid():
        try:
            actions.do_mark_note_entered_in_error(
                Actor.from_request(request), access, note, error_form.cleaned_data["reason"]
            )
        except actions.RecordChangeRefused as refusal:
            error_form.add_error(None, str(refusal))
        else:
            messages.success(request, _("The note is marked as entered in error."))
            return redirect("staff_records:record", patient_id=access.patient.pk)
    initial = {"title": note.title, "body": note.body}
    return _note_page(request, access, note, NoteCorrectionForm(initial=initial), error_form, status=400)


# Release and review ----------------------------------------------------------------------


def _report_for_writing(
    request: HttpRequest, patient_id: int, report_id: int
) -> tuple[PatientAccess, ResultReport]:
    access = _staff_access(request, patient_id)
    return access, get_visible(request, visible_reports(access), access, report_id)


@staff_page
@require_POST
def release(request: HttpRequest, patient_id: int, report_id: int) -> HttpResponse:
    """Release a held result to the patient now."""
    access, report = _report_for_writing(request, patient_id, report_id)
    if not _may_write(request):
        return _not_clinical(request, access)
    if actions.do_release_result(Actor.from_request(request), access, report):
        messages.success(request, _("Released. The patient can see this result now."))
    else:
        messages.info(request, _("This result was already released."))
    return _back(request, access, report)


@staff_page
@require_POST
def review(request: HttpRequest, patient_id: int, report_id: int) -> HttpResponse:
    """Record that a clinician has reviewed the result."""
    access, report = _report_for_writing(request, patient_id, report_id)
    if not _may_write(request):
        return _not_clinical(request, access)
    if actions.do_review_result(Actor.from_request(request), access, report):
        messages.success(request, _("Marked as reviewed."))
    else:
        messages.info(request, _("This result was already reviewed."))
    return _back(request, access, report)


def _audit_queue(request: HttpRequest, action: str, rows: list[Any]) -> None:
    """One audit event for a queue page, naming every patient and row it showed."""
    record(
        Actor.from_request(request),
        action,
        kind=Kind.READ,
        detail={
            "patients": sorted({row.patient_id for row in rows}),
            "rows": [row.pk for row in rows],
        },
    )


@staff_page
def held_queue(request: HttpRequest) -> HttpResponse:
    """Results waiting under a hold rule, for the patients this member of staff cares for, oldest first."""
    held = (
        ResultReport.objects.filter(
            patient__in=record_patients(signed_in_user(request)), available_at__gt=timezone.now()
        )
        .select_related("patient")
        .order_by("issued_at", "pk")
    )
    rows = list(held[: QUEUE_ROWS + 1])
    _audit_queue(request, "records.staff_held_queue_view", rows[:QUEUE_ROWS])
    context = {"reports": rows[:QUEUE_ROWS], "more": len(rows) > QUEUE_ROWS, "may_write": _may_write(request)}
    return render(request, "records/staff_held.html", context)


# Correction requests ---------------------------------------------------------------------


@staff_page
def amendment_queue(request: HttpRequest) -> HttpResponse:
    """Open correction requests for the patients this member of staff cares for, oldest first."""
    waiting = (
        AmendmentRequest.objects.filter(
            patient__in=record_patients(signed_in_user(request)), status=AmendmentRequest.Status.SUBMITTED
        )
        .select_related("patient", "requested_by")
        .order_by("created_at", "pk")
    )
    rows = list(waiting[: QUEUE_ROWS + 1])
    _audit_queue(request, "records.staff_amendment_queue_view", rows[:QUEUE_ROWS])
    today = timezone.now()
    context = {
        "amendments": [
            (amendment, amendment.created_at + dt.timedelta(days=ANSWER_WITHIN_DAYS))
            for amendment in rows[:QUEUE_ROWS]
        ],
        "more": len(rows) > QUEUE_ROWS,
        "now": today,
        "days": ANSWER_WITHIN_DAYS,
    }
    return render(request, "records/staff_amendments.html", context)


def item_facts(item: models.Model) -> list[tuple[str, Any]]:
    """What an item says now, as (label, value) pairs, for comparing with a request."""
    facts: list[tuple[str, Any]] = []
    for field in item._meta.concrete_fields:
        if field.name in INTERNAL_FIELDS or field.is_relation:
            continue
        value: Any = getattr(item, field.name)
        if field.choices:
            value = getattr(item, f"get_{field.name}_display")()
        if isinstance(value, list):
            value = "; ".join(
                " ".join(str(part.get(key, "")) for key in ("code", "name")).strip()
                if isinstance(part, dict)
                else str(part)
                for part in value
            )
        if isinstance(value, Decimal):
            value = format(value.normalize(), "f")
        if value in (None, "", {}):
            continue
        facts.append((capfirst(str(field.verbose_name)), value))
    return facts


def _correction_link(amendment: AmendmentRequest, item: RecordItem | None) -> str:
    if item is None:
        return ""
    if isinstance(item, Observation):
        return reverse("staff_records:correct_observation", args=[item.patient_id, item.pk])
    if isinstance(item, ClinicalNote):
        return reverse("staff_records:correct_note", args=[item.patient_id, item.pk])
    return ""


@staff_page
def amendment_page(request: HttpRequest, request_id: int) -> HttpResponse:
    """A request beside the item as it is now; accept or deny it, once."""
    amendment, access = require_object(
        request,
        AmendmentRequest.objects.select_related("requested_by", "decided_by"),
        scope=Scope.VIEW,
        pk=request_id,
    )
    if not access.is_staff_access:
        refuse(request, access.patient, what="records.amendmentrequest", lookup=str(request_id))
    accept_form = AcceptForm(
        request.POST if request.POST.get("decision") == "accept" else None, prefix="accept"
    )
    deny_form = DenyForm(request.POST if request.POST.get("decision") == "deny" else None, prefix="deny")
    if request.method == "POST":
        if not _may_write(request):
            return _not_clinical(request, access)
        form = accept_form if request.POST.get("decision") == "accept" else deny_form
        if form.is_bound and form.is_valid():
            try:
                actions.do_decide_amendment(
                    Actor.from_request(request),
                    access,
                    amendment,
                    accepted=form is accept_form,
                    response=form.cleaned_data["response"],
                )
            except actions.RecordChangeRefused as refusal:
                messages.error(request, str(refusal))
                return redirect("staff_records:amendment", request_id=amendment.pk)
            messages.success(request, _("Answered. The patient is told your reply."))
            return redirect("staff_records:amendments")
    item: RecordItem | None = None
    if amendment.item_type in CORRECTABLE:  # the item may since have been deleted: then it is None
        item = visible_items(access, amendment.item_type).filter(pk=amendment.item_id).first()
    record_read(request, access, "records.staff_amendment_view", obj=amendment)
    context = {
        "access": access,
        "patient": access.patient,
        "amendment": amendment,
        "item": item,
        "facts": item_facts(item) if item is not None else [],
        "history": corrections_of([item]).get(item.pk, []) if item is not None else [],
        "section": item_section(amendment.item_type),
        "correction_link": _correction_link(amendment, item),
        "accept_form": accept_form,
        "deny_form": deny_form,
        "may_write": _may_write(request),
        "due": amendment.created_at + dt.timedelta(days=ANSWER_WITHIN_DAYS),
    }
    return render(request, "records/staff_amendment.html", context)


# Hold rules ------------------------------------------------------------------------------


@staff_page
def hold_rules(request: HttpRequest) -> HttpResponse:
    """The clinic's hold rules: every member of staff may read them, administrators change them."""
    user = signed_in_user(request)
    may_change = actions.may_configure_holds(user)
    form = HoldRuleForm(request.POST or None)
    if request.method == "POST":
        if not may_change:
            return render(request, "records/staff_not_admin.html", status=403)
        if form.is_valid():
            data = form.cleaned_data
            try:
                actions.do_create_hold_rule(
                    Actor.from_request(request), data["category"], data["hold_hours"], data["reason"]
                )
            except actions.RecordChangeRefused as refusal:
                form.add_error(None, str(refusal))
            else:
                messages.success(request, _("Hold rule saved. It applies to results entered from now on."))
                return redirect("staff_records:hold_rules")
    rules = list(
        ReleaseHoldRule.objects.select_related("created_by").order_by("-active", "category", "-created_at")[
            :HOLD_RULES_SHOWN
        ]
    )
    context = {"rules": rules, "form": form, "may_change": may_change}
    return render(request, "records/staff_hold_rules.html", context)


@staff_page
@require_POST
def deactivate_hold_rule(request: HttpRequest, rule_id: int) -> HttpResponse:
    user = signed_in_user(request)
    if not actions.may_configure_holds(user):
        return render(request, "records/staff_not_admin.html", status=403)
    rule = ReleaseHoldRule.objects.filter(pk=rule_id, active=True).first()
    if rule is not None and actions.do_deactivate_hold_rule(Actor.from_request(request), rule):
        messages.success(request, _("Hold rule ended. New results of this type are released at once."))
    else:
        messages.info(request, _("That hold rule was already ended."))
    return redirect("staff_records:hold_rules")
