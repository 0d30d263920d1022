"""Connected apps: which apps may read the patient's record, what they may read, and disconnecting one.

The page is for whoever acts for the patient with the view scope (the patient, or a
proxy); it lists apps connected by anyone, so a parent sees an app another proxy
connected. Disconnecting takes effect on the app's very next request.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from portal.audit.actor import Actor
from portal.patients.access import PatientAccess, refuse, require_object
from portal.patients.models import Scope
from portal.patients.selection import patient_page
from portal.smart import consent
from portal.smart import scopes as smart_scopes
from portal.smart.actions import do_revoke_authorization
from portal.smart.models import AppRegistration, PatientAuthorization

DISCONNECTED_SHOWN_DAYS = 90


@dataclass(frozen=True)
class ConnectedApp:
    """One authorization as the page shows it."""

    authorization: PatientAuthorization
    name: str
    homepage: str
    connected_by_me: bool
    reads: list[str]


def describe_scopes(scope_string: str) -> list[str]:
    """What an app may read, one plain sentence per granted scope (the consent screen's words)."""
    lines = [choice.label for choice in consent.choices(smart_scopes.parse(scope_string))]
    return lines or [_("Nothing from the record")]


def _shown(authorization: PatientAuthorization, user_id: int | None) -> ConnectedApp:
    registration: AppRegistration | None = getattr(authorization.application, "registration", None)
    return ConnectedApp(
        authorization=authorization,
        name=registration.name if registration else authorization.application.name,
        homepage=registration.homepage if registration else "",
        connected_by_me=authorization.user_id == user_id,
        reads=describe_scopes(authorization.scopes),
    )


def visible_authorizations(access: PatientAccess) -> QuerySet[PatientAuthorization]:
    """The patient's app connections this access may see and disconnect.

    A parent of a 12-17-year-old (an access that hides confidential categories) sees only
    the connections they made themselves: which apps a teenager uses is theirs to keep.
    """
    rows = PatientAuthorization.objects.filter(patient=access.patient)
    return rows.filter(user=access.user) if access.hidden_categories else rows


@patient_page(scope=Scope.VIEW)
def connected_apps(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    """Every app connected to the record now, and those disconnected lately."""
    since = timezone.now() - dt.timedelta(days=DISCONNECTED_SHOWN_DAYS)
    rows = list(
        visible_authorizations(access)
        .exclude(revoked_at__lt=since)
        .select_related("application__registration", "user")
        .order_by("-created_at", "-id")
    )
    shown = [_shown(row, request.user.pk) for row in rows]
    context = {
        "access": access,
        "connected": [app for app in shown if app.authorization.revoked_at is None],
        "disconnected": sorted(
            (app for app in shown if app.authorization.revoked_at is not None),
            key=lambda app: app.authorization.revoked_at or since,
            reverse=True,
        ),
        "days": DISCONNECTED_SHOWN_DAYS,
    }
    return render(request, "smart/apps/list.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def disconnect(request: HttpRequest, authorization_id: int) -> HttpResponse:
    """Confirm, then disconnect: anyone who may view the patient's record may disconnect its apps."""
    authorization, access = require_object(
        request,
        PatientAuthorization.objects.select_related("application__registration", "user"),
        Scope.VIEW,
        pk=authorization_id,
    )
    if access.is_staff_access or not visible_authorizations(access).filter(pk=authorization.pk).exists():
        # Patient pages never carry staff rights: a clinician cannot disconnect a patient's app.
        refuse(request, access.patient, what="smart.patientauthorization", lookup=str(authorization_id))
    if authorization.revoked_at is not None:
        return redirect("connected_apps:list")
    app = _shown(authorization, request.user.pk)
    if request.method == "POST":
        do_revoke_authorization(Actor.from_request(request), access, authorization)
        messages.success(
            request, _("%(app)s is disconnected. It can no longer read the record.") % {"app": app.name}
        )
        return redirect("connected_apps:list")
    return render(request, "smart/apps/disconnect.html", {"access": access, "app": app})
