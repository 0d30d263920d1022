from __future__ import annotations

from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from portal.audit.models import AuditEvent
from portal.audit.vocabulary import describe, private_actions
from portal.lib.paging import keyset_page
from portal.patients.access import PatientAccess, Role, record_read
from portal.patients.models import Scope
from portal.patients.selection import patient_page

PAGE_SIZE = 50


@patient_page(scope=Scope.VIEW)
def access_log(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    """Who viewed my record: every read by staff, proxies and apps, in plain language."""
    record_read(request, access, "access_log.view")
    others = AuditEvent.objects.filter(
        patient=access.patient,
        kind__in=[AuditEvent.Kind.READ, AuditEvent.Kind.WRITE, AuditEvent.Kind.DENIED],
    )
    if access.patient.account_id is not None:
        # The patient's own visits are not news to them; an app they connected, reading in
        # their name, is. A proxy never sees the patient's own apps: which apps a teen uses
        # is the teen's business.
        own = Q(actor_id=access.patient.account_id)
        if access.role is Role.SELF:
            own &= ~Q(action__startswith="fhir.")
        others = others.exclude(own)
    if access.hidden_categories:
        others = others.exclude(action__in=private_actions())
    page = keyset_page(others, request.GET.get("before"), PAGE_SIZE, key="sequence")
    rows = [(event, describe(event.action, event.detail)) for event in page.items]
    context = {"access": access, "page": page, "rows": rows}
    return render(request, "audit/access_log.html", context)
