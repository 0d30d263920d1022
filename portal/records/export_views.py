"""Download or print the record: choose sections, dates and a format, then get a page, PDF or FHIR file.

Downloading the whole record (every section, over the patient's whole life) as a file asks
for a recent re-authentication: those requests are sent on to `*_full` views that require it.
Printing shows a page and needs nothing more than the record itself does.
"""

from __future__ import annotations

import json

from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header, urlencode
from django.utils.translation import gettext_lazy

from portal.accounts.decorators import require_recent_auth
from portal.fhir.export import patient_bundle
from portal.patients.access import PatientAccess, record_read
from portal.patients.models import Scope
from portal.patients.selection import patient_page
from portal.records.export import Selection, gather
from portal.records.pdf import pdf_filename, record_pdf, too_long_for_pdf
from portal.records.share_forms import ExportForm, SelectionForm

Format = ExportForm.Format
TOO_LONG = gettext_lazy(
    "That is too much for one PDF. Choose fewer sections or a shorter date range, or choose the "
    "printable page: your browser can save it as a PDF."
)


@patient_page(scope=Scope.VIEW)
def choose(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    """The form: which sections, which dates, which format."""
    form = ExportForm(request.GET if "format" in request.GET else None)
    if form.is_bound and form.is_valid():
        return redirect(download_url(form.cleaned_data["format"], form.selection(), access))
    return _choose_page(request, access, form)


def _choose_page(
    request: HttpRequest, access: PatientAccess, form: SelectionForm, status: int = 200
) -> HttpResponse:
    return render(request, "records/export_choose.html", {"access": access, "form": form}, status=status)


def download_url(kind: str, selection: Selection, access: PatientAccess) -> str:
    """Where a download is served; the whole record as a file goes through re-authentication."""
    name = f"record_export:{kind}"
    if kind in (Format.PDF, Format.FHIR) and selection.whole_record(access.patient):
        name += "_full"
    return f"{reverse(name)}?{urlencode(query_of(selection), doseq=True)}"


def query_of(selection: Selection) -> dict[str, str | list[str]]:
    query: dict[str, str | list[str]] = {"sections": list(selection.sections)}
    if selection.date_from:
        query["date_from"] = selection.date_from.isoformat()
    if selection.date_to:
        query["date_to"] = selection.date_to.isoformat()
    return query


def _selection(request: HttpRequest) -> Selection | None:
    form = SelectionForm(request.GET)
    return form.selection() if form.is_valid() else None


def _with_choice(request: HttpRequest, kind: str) -> ExportForm:
    # Bad input in a download address re-renders the choice form with its errors, format kept.
    data = request.GET.copy()
    data["format"] = kind
    bound = ExportForm(data)
    bound.is_valid()
    return bound


@patient_page(scope=Scope.VIEW)
def print_record(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    selection = _selection(request)
    if selection is None:
        return _choose_page(request, access, _with_choice(request, Format.PRINT), status=400)
    record_read(request, access, "records.print", **selection.audit_detail())
    export = gather(access, selection)
    return render(request, "records/export_print.html", {"access": access, "export": export})


@patient_page(scope=Scope.VIEW)
def pdf(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    return _file(request, access, Format.PDF, full=False)


@patient_page(scope=Scope.VIEW)
@require_recent_auth
def pdf_full(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    return _file(request, access, Format.PDF, full=True)


@patient_page(scope=Scope.VIEW)
def fhir(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    return _file(request, access, Format.FHIR, full=False)


@patient_page(scope=Scope.VIEW)
@require_recent_auth
def fhir_full(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    return _file(request, access, Format.FHIR, full=True)


def _file(request: HttpRequest, access: PatientAccess, kind: str, *, full: bool) -> HttpResponse:
    selection = _selection(request)
    if selection is None:
        return _choose_page(request, access, _with_choice(request, kind), status=400)
    if selection.whole_record(access.patient) and not full:
        return redirect(download_url(kind, selection, access))
    if kind == Format.PDF:
        return pdf_response(request, access, selection)
    return fhir_response(request, access, selection)


def pdf_response(request: HttpRequest, access: PatientAccess, selection: Selection) -> HttpResponse:
    export = gather(access, selection)
    if too_long_for_pdf(export):
        form = _with_choice(request, Format.PDF)
        form.add_error(None, TOO_LONG)
        return _choose_page(request, access, form)
    record_read(request, access, "records.export_pdf", **selection.audit_detail())
    return attachment(record_pdf(export), "application/pdf", pdf_filename(export))


def fhir_response(request: HttpRequest, access: PatientAccess, selection: Selection) -> HttpResponse:
    record_read(request, access, "records.export_fhir", **selection.audit_detail())
    bundle = patient_bundle(access, list(selection.sections), selection.date_from, selection.date_to)
    name = f"health-record-{access.patient.clinic_number}-{timezone.localdate().isoformat()}.json"
    content = json.dumps(bundle, cls=DjangoJSONEncoder, ensure_ascii=False).encode()
    return attachment(content, "application/fhir+json", name)


def attachment(content: bytes, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(True, filename) or "attachment"
    return response
