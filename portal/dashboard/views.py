from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from portal.dashboard.cards import cards_for
from portal.patients.access import PatientAccess, record_read
from portal.patients.selection import SESSION_KEY, choose, current_access, patient_page


@patient_page(scope=None)
def home(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    record_read(request, access, "dashboard.view")
    return render(request, "dashboard/home.html", {"access": access, "cards": cards_for(request, access)})


@login_required
@require_POST
def switch_patient(request: HttpRequest) -> HttpResponse:
    """Change which patient the user is acting for; only to someone they may act for."""
    _current, accesses = current_access(request)
    chosen = choose(accesses, request.POST.get("patient"))
    if chosen is None:
        messages.error(request, _("You cannot act for that person."))
    else:
        request.session[SESSION_KEY] = chosen.patient.pk
        messages.success(
            request,
            _("You are now viewing %(name)s's account.") % {"name": chosen.patient.full_name},
        )
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = "home"
    return redirect(target)
