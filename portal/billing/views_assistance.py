"""Financial assistance on the patient side: what the program is, the application, its answers.

Needs the billing scope. One application may wait for a decision at a time; while it
waits the page shows it instead of the form.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from portal.audit.actor import Actor
from portal.billing import assistance
from portal.billing.forms_assistance import MAX_HOUSEHOLD, AssistanceForm
from portal.patients.access import PatientAccess, record_read
from portal.patients.models import Scope
from portal.patients.selection import patient_page

# Applications shown: a household applies once or twice a year at most.
SHOWN = 20


@require_http_methods(["GET", "HEAD", "POST"])
@patient_page(Scope.BILLING)
def assistance_page(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    history = list(assistance.applications(access.patient).order_by("-created_at", "-id")[:SHOWN])
    waiting = any(application.status == assistance.Status.SUBMITTED for application in history)
    posted = request.method == "POST" and not waiting
    form = AssistanceForm(request.POST if posted else None, request.FILES if posted else None)
    if posted and form.is_valid():
        try:
            assistance.do_apply_for_assistance(
                Actor.from_request(request), access, form.answers(), form.cleaned_data["document"]
            )
        except assistance.AssistanceRefused as refusal:
            form.add_error(None, refusal.message)
        else:
            messages.success(
                request, _("Your application was sent. The billing office will tell you its decision.")
            )
            return redirect("billing:assistance")
    if request.method == "POST" and waiting:
        messages.error(request, _("You already have an application waiting for a decision."))
        return redirect("billing:assistance")
    record_read(request, access, "billing.assistance_view", count=len(history))
    context = {
        "access": access,
        "form": form,
        "history": [
            (application, assistance.Employment.label(application.employment)) for application in history
        ],
        "waiting": waiting,
        "max_household": MAX_HOUSEHOLD,
    }
    return render(request, "billing/assistance/page.html", context, status=400 if form.is_bound else 200)
