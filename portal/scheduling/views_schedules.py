"""Clinicians' schedules in the staff workspace: sessions, blocks, the slot grid, visit types.

A campus's scheduling desk sees and changes the schedules of clinicians who work at its
campuses; a clinician sees their own and adds or removes their own blocks;
administrators see everything. Anyone else gets the 404 a missing page gets. The only
patient data here is the list of booked visits inside a block (names and times), and
showing it is audited.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import TypeVar

from django.contrib import messages
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods, require_POST

from portal.accounts.models import signed_in_user
from portal.audit.actor import Actor
from portal.audit.log import Kind, record
from portal.organization.models import Campus, Department, Practitioner
from portal.scheduling import actions_schedules as actions
from portal.scheduling.actions_schedules import ScheduleRefused, ScheduleRights, rights_of
from portal.scheduling.forms_schedules import BlockForm, EndTemplateForm, TemplateForm, VisitTypeForm
from portal.scheduling.models import Appointment, ScheduleBlock, ScheduleTemplate, Slot, VisitType
from portal.staff.decorators import staff_page

CLINICIANS_SHOWN = 200
BLOCKS_SHOWN = 50
VISIT_TYPES_SHOWN = 500
AFFECTED_SHOWN = 200
GRID_DAYS = 14
Option = TypeVar("Option", Campus, Department)


def _rights(request: HttpRequest) -> ScheduleRights:
    rights = rights_of(signed_in_user(request))
    if not rights.any:
        raise Http404
    return rights


def _clinician(rights: ScheduleRights, practitioner_id: int) -> Practitioner:
    practitioner = rights.clinicians().filter(pk=practitioner_id).first()
    if practitioner is None:
        raise Http404
    return practitioner


def _campuses_of(practitioner: Practitioner) -> QuerySet[Campus]:
    """Where the clinician works: their campuses and those of their sessions."""
    return Campus.objects.filter(
        Q(practitioners=practitioner) | Q(schedule_templates__practitioner=practitioner)
    ).distinct()


def _clock(time: dt.time) -> str:
    # Translators: a clock time in PHP date() notation; "g:i A" is "9:00 AM", use "H:i" for 24-hour.
    return formats.time_format(time, _("g:i A"))


@dataclass
class DayCounts:
    day: dt.date
    open: int
    booked: int
    blocked: int


# Pages -----------------------------------------------------------------------------------


@staff_page
@require_http_methods(["GET", "HEAD"])
def home(request: HttpRequest) -> HttpResponse:
    """The clinicians whose schedules the user may see, by campus and department."""
    rights = _rights(request)
    campuses = list(rights.campuses()) if rights.is_desk else []
    departments = list(Department.objects.filter(campuses__in=campuses).distinct()) if campuses else []
    clinicians = rights.clinicians()
    campus = _chosen(request.GET.get("campus"), campuses)
    department = _chosen(request.GET.get("department"), departments)
    if campus is not None:
        clinicians = clinicians.filter(Q(campuses=campus) | Q(schedule_templates__campus=campus)).distinct()
    if department is not None:
        clinicians = clinicians.filter(departments=department).distinct()
    shown = list(
        clinicians.prefetch_related(
            Prefetch("departments", queryset=Department.objects.order_by("name")),
            Prefetch("campuses", queryset=Campus.objects.order_by("name")),
        ).order_by("family_name", "given_name", "pk")[: CLINICIANS_SHOWN + 1]
    )
    context = {
        "rights": rights,
        "clinicians": shown[:CLINICIANS_SHOWN],
        "more": len(shown) > CLINICIANS_SHOWN,
        "campuses": campuses,
        "departments": departments,
        "campus": campus,
        "department": department,
    }
    return render(request, "scheduling/schedules/home.html", context)


def _chosen(raw: str | None, options: list[Option]) -> Option | None:
    return next((option for option in options if str(option.pk) == raw), None)


@staff_page
@require_http_methods(["GET", "HEAD"])
def clinician(request: HttpRequest, practitioner_id: int) -> HttpResponse:
    """One clinician's sessions, upcoming blocks and the next two weeks of slots."""
    rights = _rights(request)
    practitioner = _clinician(rights, practitioner_id)
    zone_campus = _zone_campus(practitioner, rights)
    context = {
        "rights": rights,
        "practitioner": practitioner,
        "templates": _template_rows(practitioner, rights),
        "blocks": list(
            ScheduleBlock.objects.filter(practitioner=practitioner, ends_at__gt=timezone.now())[:BLOCKS_SHOWN]
        ),
        "grid": _grid(practitioner, zone_campus) if zone_campus else [],
        "zone_campus": zone_campus,
        "manages_templates": rights.manages_templates_of(practitioner),
        "manages_blocks": rights.manages_blocks_of(practitioner),
    }
    return render(request, "scheduling/schedules/clinician.html", context)


def _zone_campus(practitioner: Practitioner, rights: ScheduleRights) -> Campus | None:
    """The campus whose zone the clinician's days and blocks are shown in."""
    campuses = list(_campuses_of(practitioner).order_by("name"))
    preferred = [campus for campus in campuses if rights.manages_campus(campus.pk)]
    return next(iter(preferred or campuses), None)


@dataclass
class TemplateRow:
    template: ScheduleTemplate
    hours: str
    has_slots: bool
    manageable: bool


def _template_rows(practitioner: Practitioner, rights: ScheduleRights) -> list[TemplateRow]:
    today = timezone.now().date() - dt.timedelta(days=1)
    templates = (
        ScheduleTemplate.objects.filter(practitioner=practitioner)
        .exclude(valid_until__lt=today)
        .select_related("campus", "department")
        .prefetch_related(Prefetch("visit_types", queryset=VisitType.objects.order_by("name")))
        .annotate(has_slots=Exists(Slot.objects.filter(template=OuterRef("pk"))))
        .order_by("weekday", "starts", "valid_from", "pk")
    )
    return [
        TemplateRow(
            template=template,
            hours=_("%(starts)s to %(ends)s (%(zone)s)")
            % {
                "starts": _clock(template.starts),
                "ends": _clock(template.ends),
                "zone": template.campus.zone_label,
            },
            has_slots=template.has_slots,
            manageable=rights.manages_templates_of(practitioner)
            and rights.manages_campus(template.campus_id),
        )
        for template in templates
    ]


def _grid(practitioner: Practitioner, campus: Campus) -> list[DayCounts]:
    """Open, booked and blocked slots per campus-local day for the next two weeks."""
    zone = campus.zone
    first = timezone.now().astimezone(zone).date()
    start = dt.datetime.combine(first, dt.time(), tzinfo=zone)
    end = dt.datetime.combine(first + dt.timedelta(days=GRID_DAYS), dt.time(), tzinfo=zone)
    counts: Counter[tuple[dt.date, str]] = Counter(
        (starts_at.astimezone(zone).date(), status)
        for starts_at, status in Slot.objects.filter(
            practitioner=practitioner, starts_at__gte=start, starts_at__lt=end
        ).values_list("starts_at", "status")
    )
    days = [first + dt.timedelta(days=offset) for offset in range(GRID_DAYS)]
    return [
        DayCounts(
            day=day,
            open=counts[(day, Slot.Status.OPEN)],
            booked=counts[(day, Slot.Status.BOOKED)],
            blocked=counts[(day, Slot.Status.BLOCKED)],
        )
        for day in days
    ]


@staff_page
@require_http_methods(["GET", "HEAD", "POST"])
def add_template(request: HttpRequest, practitioner_id: int) -> HttpResponse:
    rights = _rights(request)
    practitioner = _clinician(rights, practitioner_id)
    if not rights.manages_templates_of(practitioner):
        raise Http404
    form = TemplateForm(request.POST or None, campuses=rights.campuses())
    if request.method == "POST" and form.is_valid():
        try:
            _template, created = actions.do_add_template(
                Actor.from_request(request), rights, practitioner, form.draft()
            )
        except ScheduleRefused as refusal:
            form.add_error(refusal.field, refusal.message)
        else:
            messages.success(
                request,
                ngettext(
                    "Session added: %(count)d slot opened.", "Session added: %(count)d slots opened.", created
                )
                % {"count": created},
            )
            return redirect("schedules:clinician", practitioner.pk)
    context = {"practitioner": practitioner, "form": form}
    return render(request, "scheduling/schedules/template_add.html", context)


def _managed_template(
    rights: ScheduleRights, practitioner: Practitioner, template_id: int
) -> ScheduleTemplate:
    template = (
        ScheduleTemplate.objects.select_related("campus", "department", "practitioner")
        .filter(pk=template_id, practitioner=practitioner)
        .first()
    )
    if template is None or not (
        rights.manages_templates_of(practitioner) and rights.manages_campus(template.campus_id)
    ):
        raise Http404
    return template


@staff_page
@require_http_methods(["GET", "HEAD", "POST"])
def end_template(request: HttpRequest, practitioner_id: int, template_id: int) -> HttpResponse:
    """End or shorten a session; one that never opened a slot can be removed instead."""
    rights = _rights(request)
    practitioner = _clinician(rights, practitioner_id)
    template = _managed_template(rights, practitioner, template_id)
    form = EndTemplateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            ended = actions.do_end_template(
                Actor.from_request(request), rights, template, form.cleaned_data["last_day"]
            )
        except ScheduleRefused as refusal:
            form.add_error(refusal.field, refusal.message)
        else:
            messages.success(
                request,
                ngettext(
                    "Session ended: %(count)d open slot withdrawn.",
                    "Session ended: %(count)d open slots withdrawn.",
                    ended.withdrawn,
                )
                % {"count": ended.withdrawn},
            )
            if ended.still_booked:
                messages.warning(
                    request,
                    ngettext(
                        "%(count)d booked visit is after the new last day: move it from the desk.",
                        "%(count)d booked visits are after the new last day: move them from the desk.",
                        ended.still_booked,
                    )
                    % {"count": ended.still_booked},
                )
            return redirect("schedules:clinician", practitioner.pk)
    context = {
        "practitioner": practitioner,
        "template": template,
        "hours": _("%(starts)s to %(ends)s (%(zone)s)")
        % {
            "starts": _clock(template.starts),
            "ends": _clock(template.ends),
            "zone": template.campus.zone_label,
        },
        "form": form,
        "removable": not Slot.objects.filter(template=template).exists(),
    }
    return render(request, "scheduling/schedules/template_end.html", context)


@staff_page
@require_POST
def remove_template(request: HttpRequest, practitioner_id: int, template_id: int) -> HttpResponse:
    rights = _rights(request)
    practitioner = _clinician(rights, practitioner_id)
    template = _managed_template(rights, practitioner, template_id)
    try:
        actions.do_remove_template(Actor.from_request(request), rights, template)
    except ScheduleRefused as refusal:
        messages.error(request, refusal.message)
        return redirect("schedules:end_template", practitioner.pk, template.pk)
    messages.success(request, _("Session removed."))
    return redirect("schedules:clinician", practitioner.pk)


@staff_page
@require_http_methods(["GET", "HEAD", "POST"])
def add_block(request: HttpRequest, practitioner_id: int) -> HttpResponse:
    rights = _rights(request)
    practitioner = _clinician(rights, practitioner_id)
    if not rights.manages_blocks_of(practitioner):
        raise Http404
    campuses = _campuses_of(practitioner).order_by("name")
    zone_campus = _zone_campus(practitioner, rights)
    form = BlockForm(
        request.POST or None, campuses=campuses, initial={"campus": zone_campus.pk if zone_campus else None}
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            block, blocked = actions.do_add_block(
                Actor.from_request(request),
                rights,
                practitioner,
                data["kind"],
                data["starts_at"],
                data["ends_at"],
                data["reason"],
            )
        except ScheduleRefused as refusal:
            form.add_error(refusal.field, refusal.message)
        else:
            messages.success(
                request,
                ngettext(
                    "Time blocked: %(count)d open slot closed.",
                    "Time blocked: %(count)d open slots closed.",
                    blocked,
                )
                % {"count": blocked},
            )
            return redirect("schedules:block", practitioner.pk, block.pk)
    context = {"practitioner": practitioner, "form": form, "has_campus": campuses.exists()}
    return render(request, "scheduling/schedules/block_add.html", context)


def _block(rights: ScheduleRights, practitioner: Practitioner, block_id: int) -> ScheduleBlock:
    block = ScheduleBlock.objects.filter(pk=block_id, practitioner=practitioner).first()
    if block is None or not rights.manages_blocks_of(practitioner):
        raise Http404
    block.practitioner = practitioner
    return block


@staff_page
@require_http_methods(["GET", "HEAD"])
def block(request: HttpRequest, practitioner_id: int, block_id: int) -> HttpResponse:
    """A block, with the booked visits inside it for the desk to move."""
    rights = _rights(request)
    practitioner = _clinician(rights, practitioner_id)
    shown_block = _block(rights, practitioner, block_id)
    affected = list(actions.booked_inside([shown_block])[:AFFECTED_SHOWN])
    # One event per patient shown, so each sees it in "Who viewed my record".
    actor = Actor.from_request(request)
    for appointment in affected:
        record(
            actor,
            "schedules.view",
            kind=Kind.READ,
            patient=appointment.patient,
            obj=appointment,
            detail={"block": shown_block.pk},
        )
    context = {
        "practitioner": practitioner,
        "blocked_time": shown_block,
        "zone_campus": _zone_campus(practitioner, rights),
        "affected": [_affected_row(rights, appointment) for appointment in affected],
    }
    return render(request, "scheduling/schedules/block.html", context)


@dataclass
class AffectedRow:
    appointment: Appointment
    day: dt.date
    day_url: str


def _affected_row(rights: ScheduleRights, appointment: Appointment) -> AffectedRow:
    """A booked visit inside a block, linked to the desk's day list for those who work there."""
    day_url = ""
    if rights.manages_campus(appointment.campus_id):
        try:
            day_url = reverse("desk:day", args=[appointment.campus.slug])
        except NoReverseMatch:  # the desk's pages are not installed
            day_url = ""
    return AffectedRow(
        appointment=appointment,
        day=appointment.starts_at.astimezone(appointment.campus.zone).date(),
        day_url=day_url,
    )


@staff_page
@require_POST
def remove_block(request: HttpRequest, practitioner_id: int, block_id: int) -> HttpResponse:
    rights = _rights(request)
    practitioner = _clinician(rights, practitioner_id)
    removed = _block(rights, practitioner, block_id)
    reopened = actions.do_remove_block(Actor.from_request(request), rights, removed)
    messages.success(
        request,
        ngettext(
            "Block removed: %(count)d slot reopened.", "Block removed: %(count)d slots reopened.", reopened
        )
        % {"count": reopened},
    )
    return redirect("schedules:clinician", practitioner.pk)


# Visit types -----------------------------------------------------------------------------


def _desk_rights(request: HttpRequest) -> ScheduleRights:
    rights = _rights(request)
    if not rights.is_desk:
        raise Http404
    return rights


@staff_page
@require_http_methods(["GET", "HEAD"])
def visit_types(request: HttpRequest) -> HttpResponse:
    rights = _desk_rights(request)
    shown = list(
        VisitType.objects.select_related("department").order_by("-active", "name", "pk")[:VISIT_TYPES_SHOWN]
    )
    context = {"visit_types": shown, "rights": rights}
    return render(request, "scheduling/schedules/visit_types.html", context)


@staff_page
@require_http_methods(["GET", "HEAD", "POST"])
def visit_type(request: HttpRequest, visit_type_id: int | None = None) -> HttpResponse:
    """Add a visit type, or change one."""
    rights = _desk_rights(request)
    existing = None
    if visit_type_id is not None:
        existing = VisitType.objects.filter(pk=visit_type_id).first()
        if existing is None:
            raise Http404
    form = VisitTypeForm.for_visit_type(existing, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            saved = actions.do_save_visit_type(Actor.from_request(request), rights, existing, form.draft())
        except ScheduleRefused as refusal:
            form.add_error(refusal.field, refusal.message)
        else:
            messages.success(request, _("Visit type %(name)s saved.") % {"name": saved.name})
            return redirect("schedules:visit_types")
    return render(request, "scheduling/schedules/visit_type.html", {"form": form, "visit_type": existing})
