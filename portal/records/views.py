"""The patient's record: the one-page health summary and the release preferences.

Results live in `views_results.py`, the other sections in `views_sections.py`.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from portal.audit.actor import Actor
from portal.patients.access import PatientAccess, Role, record_read
from portal.patients.models import Scope
from portal.patients.selection import patient_page
from portal.records.access import visible, visible_reports
from portal.records.forms import ReleasePreferencesForm
from portal.records.models import Allergy, Encounter, Immunization, Medication, Problem, ResultReport
from portal.records.preferences import do_set_release_preferences, waiting_categories
from portal.records.views_results import observations_by_report, with_seen

# How many rows each part of the summary shows before "see all".
SHOWN = 5
SHOWN_ACTIVE = 10


@patient_page(scope=Scope.VIEW)
def summary(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    """One page of what matters now: active problems and medicines, allergies, latest results, visits."""
    reports = list(with_seen(visible_reports(access), access).order_by("-effective_at", "-id")[:SHOWN])
    by_report = observations_by_report(access, reports)
    record_read(request, access, "records.summary_view")
    context = {
        "access": access,
        "problems": _first(
            visible(Problem, access)
            .filter(status__in=[Problem.Status.ACTIVE, Problem.Status.RECURRENCE])
            .order_by("name", "id"),
            SHOWN_ACTIVE,
        ),
        "medications": _first(
            visible(Medication, access)
            .filter(status__in=[Medication.Status.ACTIVE, Medication.Status.ON_HOLD])
            .order_by("name", "id"),
            SHOWN_ACTIVE,
        ),
        "allergies": _first(
            visible(Allergy, access).filter(status=Allergy.Status.ACTIVE).order_by("substance", "id"),
            SHOWN_ACTIVE,
        ),
        "immunizations": _first(visible(Immunization, access).order_by("-given_on", "-id"), SHOWN),
        "results": [
            (report, [row for row in by_report.get(report.pk, []) if row.is_abnormal]) for report in reports
        ],
        "visits": _first(visible(Encounter, access).order_by("-started_at", "-id"), SHOWN),
    }
    return render(request, "records/summary.html", context)


def _first(queryset: QuerySet[Any], count: int) -> dict[str, object]:
    """The first `count` rows and whether there are more, in one query."""
    rows = list(queryset[: count + 1])
    return {"rows": rows[:count], "more": len(rows) > count}


@patient_page(scope=Scope.VIEW)
def preferences(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    """When results are shown: at once (the default), or after the clinician's review, per type."""
    may_change = access.role is Role.SELF
    if request.method == "POST" and not may_change:
        return render(request, "records/preferences_cannot_change.html", {"access": access}, status=403)
    waits = waiting_categories(access)
    form = ReleasePreferencesForm(request.POST or None, waits=waits)
    if request.method == "POST" and form.is_valid():
        changed = do_set_release_preferences(Actor.from_request(request), access, form.choices())
        if changed:
            messages.success(request, _("Your choices are saved."))
        else:
            messages.info(request, _("Nothing changed."))
        return redirect("records:preferences")
    record_read(request, access, "records.preferences_view")
    context = {
        "access": access,
        "form": form,
        "may_change": may_change,
        "current": [(label, category in waits) for category, label in ResultReport.Category.choices],
    }
    return render(request, "records/preferences.html", context)
