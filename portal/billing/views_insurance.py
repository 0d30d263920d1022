"""Insurance on the patient side: coverages on file, adding or replacing one, card photos, claims.

Every page needs the billing scope (the patient, or a proxy given it). A coverage a URL
names is loaded through the access policy with that scope: another patient's, a replaced
one, or one reached by a proxy without the billing scope is the same audited 404 as a
missing one, and staff rights never come with a member of staff onto these pages.
"""

from __future__ import annotations

from django.contrib import messages
from django.db.models.fields.files import FieldFile
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_safe

from portal.audit.actor import Actor
from portal.billing import insurance
from portal.billing.forms_insurance import InsuranceForm, replacement_initial
from portal.billing.models import Claim
from portal.lib.uploads import EXTENSIONS
from portal.patients.access import PatientAccess, record_read, refuse, require_object
from portal.patients.models import Coverage, Scope
from portal.patients.selection import patient_page
from portal.records.listing import dated_page

CLAIMS_PAGE_SIZE = 20
SIDES = ("front", "back")


@require_safe
@patient_page(Scope.BILLING)
def insurance_page(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    rows = insurance.coverage_rows(access)
    record_read(request, access, "billing.insurance_view", count=len(rows))
    return render(request, "billing/insurance/list.html", {"access": access, "rows": rows})


@require_http_methods(["GET", "HEAD", "POST"])
@patient_page(Scope.BILLING)
def add(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    on_file = list(insurance.on_file(access))
    posted = request.method == "POST"
    form = InsuranceForm(request.POST if posted else None, request.FILES if posted else None, on_file=on_file)
    if posted and form.is_valid():
        return _store(request, access, form, form.cleaned_data.get("replaces"))
    return _form_page(request, access, form, None)


@require_http_methods(["GET", "HEAD", "POST"])
@patient_page(None)
def replace(request: HttpRequest, _current: PatientAccess, coverage_id: int) -> HttpResponse:
    coverage, access = _load(request, coverage_id)
    posted = request.method == "POST"
    form = InsuranceForm(
        request.POST if posted else None,
        request.FILES if posted else None,
        on_file=[],
        initial=replacement_initial(coverage),
    )
    if posted and form.is_valid():
        return _store(request, access, form, coverage)
    return _form_page(request, access, form, coverage)


def _store(
    request: HttpRequest, access: PatientAccess, form: InsuranceForm, replaces: Coverage | None
) -> HttpResponse:
    data = form.cleaned_data
    try:
        insurance.do_add_coverage(
            Actor.from_request(request),
            access,
            form.details(),
            data["card_front"],
            data["card_back"],
            replaces,
        )
    except insurance.InsuranceRefused:
        messages.error(request, _("That insurance was already replaced. Nothing was saved."))
        return redirect("billing:insurance")
    messages.success(
        request, _("Thank you. The clinic will check your insurance and tell you if anything is wrong.")
    )
    return redirect("billing:insurance")


def _form_page(
    request: HttpRequest, access: PatientAccess, form: InsuranceForm, replaces: Coverage | None
) -> HttpResponse:
    context = {
        "access": access,
        "form": form,
        "replaces": replaces,
        "replaces_member_id": replaces.masked_member_id if replaces else "",
    }
    return render(request, "billing/insurance/form.html", context, status=400 if form.is_bound else 200)


def _load(request: HttpRequest, coverage_id: int) -> tuple[Coverage, PatientAccess]:
    """A coverage on file, for someone with the billing scope on the patient's side, or the audited 404."""
    coverage, access = require_object(
        request, insurance.coverages_on_file(), scope=Scope.BILLING, pk=coverage_id
    )
    if access.is_staff_access:
        refuse(request, coverage.patient, what="patients.coverage", lookup=str(coverage_id))
    return coverage, access


@require_safe
@patient_page(None)
def card(request: HttpRequest, _current: PatientAccess, coverage_id: int, side: str) -> HttpResponse:
    """A photo of an insurance card, only ever as a download."""
    coverage, access = _load(request, coverage_id)
    stored = coverage.card_front if side == "front" else coverage.card_back if side == "back" else None
    if side not in SIDES or not stored:
        refuse(request, coverage.patient, what="patients.coverage", lookup=f"{coverage_id}/{side[:10]}")
        raise Http404  # refuse has raised it already; this tells the type checker
    content_type = coverage.card_front_type if side == "front" else coverage.card_back_type
    response = download(stored, content_type, f"insurance-card-{side}")
    record_read(request, access, "billing.card_view", obj=coverage, side=side)
    return response


def download(stored: FieldFile, content_type: str, stem: str) -> HttpResponse:
    """A stored upload served only as an attachment that the browser may neither sniff nor run.

    Uploads are at most a few megabytes (their size was checked when they came in), so
    they are read whole rather than streamed.
    """
    try:
        with stored.open("rb") as stream:
            content = stream.read()
    except (OSError, ValueError) as error:
        raise Http404 from error
    extension = EXTENSIONS.get(content_type, "bin")
    response = HttpResponse(content, content_type=content_type or "application/octet-stream")
    response["Content-Disposition"] = f'attachment; filename="{stem}.{extension}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["Cache-Control"] = "no-store, private"
    return response


@require_safe
@patient_page(Scope.BILLING)
def claims(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    """Each claim sent to insurance, what it paid and what is left for the patient, newest visit first."""
    cursor = request.GET.get("after", "")[:40]
    page = dated_page(
        Claim.objects.filter(account__patient=access.patient), cursor, CLAIMS_PAGE_SIZE, "service_date"
    )
    lines = insurance.lines_by_claim(page.items, access)
    rows = [(claim, lines[claim.pk]) for claim in page.items]
    record_read(request, access, "billing.claims_view", count=len(rows))
    context = {"access": access, "rows": rows, "page": page, "paged": bool(cursor)}
    return render(request, "billing/insurance/claims.html", context)
