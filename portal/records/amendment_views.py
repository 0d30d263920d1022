"""Correction requests on the patient side: "this looks wrong" on any item, and the answers.

Items are loaded only through `records/access.py`, so an item of another patient, a
held result or a confidential item hidden from a parent gets the audited 404 a missing
item gets.
"""

from __future__ import annotations

import re

from django.apps import apps
from django.contrib import messages
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from portal.audit.actor import Actor
from portal.patients.access import PatientAccess, record_read, refuse
from portal.patients.models import Scope
from portal.patients.selection import patient_page
from portal.records import actions
from portal.records.access import get_visible, visible, visible_observations, visible_reports
from portal.records.amendment_forms import AmendmentRequestForm
from portal.records.models import AmendmentRequest, Observation, RecordItem, ResultReport
from portal.records.sections import CORRECTABLE, SECTIONS

MY_REQUESTS_SHOWN = 100
ROW_ID = re.compile(r"[0-9]{1,18}")
# HIPAA (45 CFR 164.526) gives the clinic 60 days to act on a request to amend.
ANSWER_WITHIN_DAYS = 60


def visible_items(access: PatientAccess, item_type: str) -> models.QuerySet[RecordItem]:
    """The rows of one correctable model this access may see; staff see every row."""
    model = apps.get_model(item_type)
    if model is ResultReport:
        return visible_reports(access)
    if model is Observation:
        return visible_observations(access).select_related("report")
    return visible(model, access)


def load_item(request: HttpRequest, access: PatientAccess, item_type: object, item_id: object) -> RecordItem:
    """A correctable item this access may see, or the audited 404 of a missing one."""
    # A longer id than a database integer holds names nothing; asking would overflow.
    valid_id = isinstance(item_id, str) and ROW_ID.fullmatch(item_id) is not None
    if not isinstance(item_type, str) or item_type not in CORRECTABLE or not valid_id:
        refuse(request, access.patient, what="records.item", lookup=f"{item_type}:{item_id}"[:50])
    return get_visible(request, visible_items(access, str(item_type)), access, item_id)


def item_section(item_type: str) -> str:
    return str(SECTIONS.get(CORRECTABLE.get(item_type, ""), ""))


def _my_requests(access: PatientAccess) -> models.QuerySet[AmendmentRequest]:
    """The requests this access may read.

    A parent who may not see an adolescent's confidential care sees only the requests
    they made themselves: a request's label can name a confidential item.
    """
    requests = AmendmentRequest.objects.filter(patient=access.patient)
    if access.hidden_categories:
        requests = requests.filter(requested_by=access.user)
    return requests


@patient_page(scope=Scope.VIEW)
def new_request(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    """Ask the clinic to correct one item of the record."""
    item_type, item_id = request.GET.get("type", ""), request.GET.get("id", "")
    item = load_item(request, access, item_type, item_id)
    form = AmendmentRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            amendment = actions.do_request_amendment(
                Actor.from_request(request),
                access,
                item,
                form.cleaned_data["description"],
                form.cleaned_data["proposed_change"],
            )
        except actions.RecordChangeRefused as refusal:
            form.add_error(None, str(refusal))
        else:
            messages.success(
                request,
                _(
                    "Your request was sent to the care team. They will reply within %(days)d days, "
                    "and you will get a notification when they do."
                )
                % {"days": ANSWER_WITHIN_DAYS},
            )
            return redirect("corrections:detail", request_id=amendment.pk)
    record_read(request, access, "records.amendment_form", obj=item)
    context = {
        "access": access,
        "form": form,
        "item": item,
        "label": actions.item_label(item),
        "section": item_section(item_type),
        "query": urlencode({"type": item_type, "id": item.pk}),
        "days": ANSWER_WITHIN_DAYS,
    }
    return render(request, "records/amend_new.html", context)


@patient_page(scope=Scope.VIEW)
def request_list(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    """The patient's correction requests, newest first, with their answers."""
    requests = list(_my_requests(access).select_related("requested_by")[:MY_REQUESTS_SHOWN])
    record_read(request, access, "records.amendment_list")
    context = {"access": access, "requests": requests, "days": ANSWER_WITHIN_DAYS}
    return render(request, "records/correction_list.html", context)


@patient_page(scope=Scope.VIEW)
def request_detail(request: HttpRequest, access: PatientAccess, request_id: int) -> HttpResponse:
    amendment = _my_requests(access).select_related("requested_by").filter(pk=request_id).first()
    if amendment is None:
        refuse(request, access.patient, what="records.amendmentrequest", lookup=str(request_id))
    record_read(request, access, "records.amendment_view", obj=amendment)
    context = {
        "access": access,
        "amendment": amendment,
        "section": item_section(amendment.item_type),  # type: ignore[union-attr]
        "days": ANSWER_WITHIN_DAYS,
    }
    return render(request, "records/correction_detail.html", context)
