"""Proxy access pages: sharing an account, parents' requests, invitations, the staff queue."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import Resolver404, resolve, reverse
from django.utils import timezone
from django.utils.http import content_disposition_header, urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from portal.accounts.decorators import require_recent_auth
from portal.accounts.models import signed_in_user
from portal.audit.actor import Actor
from portal.lib.paging import keyset_page
from portal.patients.access import (
    PatientAccess,
    Role,
    grant_in_force,
    record_read,
    refuse,
    require_object,
    require_patient,
    serves_every_patient,
    staff_patients,
)
from portal.patients.models import ProxyGrant, Scope
from portal.patients.selection import SESSION_KEY, patient_page
from portal.proxies import actions
from portal.proxies.forms import (
    DeclineForm,
    InviteForm,
    LegalRepresentativeForm,
    RequestAccessForm,
    end_of_day,
)
from portal.proxies.models import ProxyDocument, ProxyInvitation, ProxyRequest
from portal.proxies.tokens import invitation_from_token
from portal.staff.decorators import staff_page

QUEUE_PAGE_SIZE = 50
MY_REQUESTS_SHOWN = 50


def scope_labels(scopes: frozenset[str] | list[str]) -> list[str]:
    return [str(label) for value, label in Scope.choices if value in scopes]


# Patient side ---------------------------------------------------------------------------


@patient_page(scope=None)
def sharing(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    """Who shares this account: a proxy's own access, and its other proxies for whoever manages it."""
    context: dict[str, object] = {"access": access}
    if access.role is Role.PROXY and access.grant_id is not None:
        context["grant"] = ProxyGrant.objects.filter(pk=access.grant_id).first()
        context["scopes"] = scope_labels(access.scopes)
    if access.manages_account:
        grants = (
            ProxyGrant.objects.active()
            .filter(patient=access.patient)
            .exclude(grantee=access.user)
            .select_related("grantee", "patient")
            .order_by("starts_at", "pk")
        )
        context["proxies"] = [
            (grant, scope_labels(grant.scope_set), actions.revocation_refused(access, grant))
            for grant in grants
            if grant_in_force(grant)
        ]
        context["invitations"] = [
            (invitation, scope_labels(invitation.scope_set))
            for invitation in ProxyInvitation.objects.filter(
                patient=access.patient, status=ProxyInvitation.Status.PENDING, expires_at__gt=timezone.now()
            )
        ]
    return render(request, "proxies/sharing.html", context)


def _not_a_manager(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    return render(request, "proxies/self_only.html", {"access": access}, status=403)


@patient_page(scope=None)
@require_recent_auth
def invite(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    if not access.manages_account:
        return _not_a_manager(request, access)
    form = InviteForm(request.POST or None, access=access)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        until = data["access_until"]
        try:
            invitation = actions.do_invite_proxy(
                Actor.from_request(request),
                access,
                name=data["name"],
                email=data["email"],
                relationship=data["relationship"],
                scopes=data["scopes"],
                access_expires_at=end_of_day(until, access.patient) if until else None,
            )
        except actions.ProxyRefused as refusal:
            form.add_error(None, str(refusal))
        else:
            messages.success(
                request,
                _("We have emailed an invitation to %(email)s. Nothing is shared until they accept.")
                % {"email": invitation.email},
            )
            return redirect("proxies:sharing")
    return render(request, "proxies/invite.html", {"access": access, "form": form})


@patient_page(scope=None)
@require_POST
@require_recent_auth
def revoke(request: HttpRequest, access: PatientAccess, grant_id: int) -> HttpResponse:
    """Whoever manages the account removes a proxy. Anyone else gets the 404 of a missing grant."""
    grant, grant_access = require_object(
        request, ProxyGrant.objects.active().select_related("grantee"), scope=None, pk=grant_id
    )
    if not grant_access.manages_account:
        refuse(request, grant.patient, what="patients.proxygrant", lookup=str(grant_id))
    try:
        actions.do_revoke_proxy_grant(Actor.from_request(request), grant_access, grant)
    except actions.ProxyRefused as refusal:
        messages.error(request, str(refusal))
        return redirect("proxies:sharing")
    if grant_access.role is Role.SELF:
        done = _("%(name)s can no longer use your account.")
    else:
        done = _("%(name)s can no longer use %(patient)s's account.")
    messages.success(
        request, done % {"name": grant.grantee.display_name, "patient": grant.patient.given_name}
    )
    return redirect("proxies:sharing")


@patient_page(scope=None)
@require_POST
@require_recent_auth
def end_own_access(request: HttpRequest, access: PatientAccess, grant_id: int) -> HttpResponse:
    """A proxy stops acting for someone."""
    grant, grant_access = require_object(
        request, ProxyGrant.objects.active().filter(grantee=request.user.pk), scope=None, pk=grant_id
    )
    if grant_access.role is not Role.PROXY:
        refuse(request, grant.patient, what="patients.proxygrant", lookup=str(grant_id))
    actions.do_end_own_proxy_access(Actor.from_request(request), grant_access)
    request.session.pop(SESSION_KEY, None)
    messages.success(request, _("You no longer act for %(name)s.") % {"name": grant.patient.full_name})
    return redirect("home")


@patient_page(scope=None)
@require_POST
@require_recent_auth
def cancel_invitation(request: HttpRequest, access: PatientAccess, invitation_id: int) -> HttpResponse:
    invitation, invitation_access = require_object(
        request, ProxyInvitation.objects.all(), scope=None, pk=invitation_id
    )
    if not invitation_access.manages_account:
        refuse(request, invitation.patient, what="proxies.proxyinvitation", lookup=str(invitation_id))
    actions.do_cancel_proxy_invitation(Actor.from_request(request), invitation_access, invitation)
    messages.success(request, _("The invitation is cancelled; its link no longer works."))
    return redirect("proxies:sharing")


def _create_account_url() -> str:
    # Registration lives in its own app; link to it once it is there.
    try:
        resolve("/register/")
    except Resolver404:
        return reverse("account_login")
    return "/register/"


def _unusable(request: HttpRequest, found: ProxyInvitation | None) -> HttpResponse:
    # A token that names nothing is missing; a used or expired one is gone.
    status = 404 if found is None else 410
    return render(request, "proxies/invitation_unusable.html", status=status)


def invitation(request: HttpRequest, token: str) -> HttpResponse:
    """The page an invitation email links to: sign in, then accept or decline."""
    found = invitation_from_token(token)
    if found is None or not found.usable():
        return _unusable(request, found)
    context: dict[str, object] = {
        "invitation": found,
        "scopes": scope_labels(found.scope_set),
        "token": token,
    }
    if not request.user.is_authenticated:
        login = reverse("account_login") + "?" + urlencode({"next": request.path})
        context.update(login_url=login, create_account_url=_create_account_url())
        return render(request, "proxies/invitation_sign_in.html", context)
    return render(request, "proxies/invitation.html", context)


@require_POST
@require_recent_auth
def answer_invitation(request: HttpRequest, token: str) -> HttpResponse:
    found = invitation_from_token(token)
    if found is None or not found.usable():
        return _unusable(request, found)
    actor = Actor.from_request(request)
    try:
        if request.POST.get("answer") == "accept":
            grant = actions.do_accept_proxy_invitation(actor, found)
            request.session[SESSION_KEY] = grant.patient_id
            messages.success(request, _("You can now act for %(name)s.") % {"name": found.patient.full_name})
        elif request.POST.get("answer") == "decline":
            actions.do_decline_proxy_invitation(actor, found)
            messages.success(request, _("You declined the invitation."))
        else:
            return redirect("proxies:invitation", token=token)
    except actions.ProxyRefused as refused:
        messages.error(request, str(refused))
        return redirect("proxies:invitation", token=token)
    return redirect("home")


@login_required
def request_access(request: HttpRequest) -> HttpResponse:
    """A parent or guardian asks to act for a child; a user with no record of their own may too."""
    form = RequestAccessForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            actions.do_request_proxy_access(
                Actor.from_request(request), form.child(), form.cleaned_data["document"]
            )
        except actions.ProxyRefused as refusal:
            form.add_error(None, str(refusal))
        else:
            messages.success(
                request,
                _("Thank you. The clinic will check your request and email you the answer."),
            )
            return redirect("proxies:my_requests")
    return render(request, "proxies/request_access.html", {"form": form})


@login_required
def my_requests(request: HttpRequest) -> HttpResponse:
    requests = ProxyRequest.objects.filter(requester=signed_in_user(request)).order_by("-created_at", "-pk")
    return render(request, "proxies/my_requests.html", {"requests": list(requests[:MY_REQUESTS_SHOWN])})


# Staff side -----------------------------------------------------------------------------


def _queue(request: HttpRequest) -> QuerySet[ProxyRequest]:
    user = signed_in_user(request)
    visible = Q(patient__in=staff_patients(user))
    if serves_every_patient(user):
        visible |= Q(patient__isnull=True)
    return ProxyRequest.objects.filter(visible, status=ProxyRequest.Status.PENDING)


@staff_page
def staff_queue(request: HttpRequest) -> HttpResponse:
    """Parents' requests waiting for a decision, for the patients this member of staff reaches."""
    pending = _queue(request).select_related("requester", "patient")
    page = keyset_page(pending, request.GET.get("before"), QUEUE_PAGE_SIZE)
    return render(request, "proxies/staff/queue.html", {"page": page})


def _staff_request(request: HttpRequest, request_id: int) -> tuple[ProxyRequest, PatientAccess | None]:
    """A pending or answered request this member of staff may handle, or the audited 404.

    A request that matched no patient belongs to nobody's record; the offices that serve
    every patient handle those.
    """
    unmatched = (
        ProxyRequest.objects.select_related("requester", "document")
        .filter(pk=request_id, patient__isnull=True)
        .first()
    )
    if unmatched is not None:
        if not serves_every_patient(signed_in_user(request)):
            refuse(request, None, what="proxies.proxyrequest", lookup=str(request_id))
        return unmatched, None
    proxy_request, access = require_object(
        request, ProxyRequest.objects.select_related("requester", "document"), scope=None, pk=request_id
    )
    if not access.is_staff_access:
        refuse(request, proxy_request.patient, what="proxies.proxyrequest", lookup=str(request_id))
    return proxy_request, access


@staff_page
@require_recent_auth(allow_get=True)
def staff_request(request: HttpRequest, request_id: int) -> HttpResponse:
    proxy_request, access = _staff_request(request, request_id)
    decline_form = DeclineForm(request.POST if request.POST.get("answer") == "decline" else None)
    if request.method == "POST" and proxy_request.status == ProxyRequest.Status.PENDING:
        actor = Actor.from_request(request)
        try:
            if request.POST.get("answer") == "approve":
                actions.do_approve_proxy_request(actor, proxy_request)
                messages.success(request, _("Approved. The requester is told by email."))
                return redirect("proxies:staff_queue")
            if decline_form.is_valid():
                actions.do_decline_proxy_request(actor, proxy_request, decline_form.cleaned_data["reason"])
                messages.success(request, _("Declined. The requester is told the reason by email."))
                return redirect("proxies:staff_queue")
        except actions.ProxyRefused as refusal:
            messages.error(request, str(refusal))
            return redirect("proxies:staff_request", request_id=proxy_request.pk)
    if access is not None:
        record_read(request, access, "proxy.request_view", obj=proxy_request)
    patient = proxy_request.patient
    context = {
        "proxy_request": proxy_request,
        "patient": patient,
        "age": patient.age_on(timezone.localdate()) if patient else None,
        "names_match": patient is not None
        and (patient.given_name.casefold(), patient.family_name.casefold())
        == (proxy_request.given_name.casefold(), proxy_request.family_name.casefold()),
        "decline_form": decline_form,
    }
    return render(request, "proxies/staff/request.html", context)


@staff_page
def staff_document(request: HttpRequest, document_id: int) -> HttpResponse:
    """A proof document, as a download, to staff who may act for its patient."""
    document, access = require_object(request, ProxyDocument.objects.all(), scope=None, pk=document_id)
    if not access.is_staff_access:
        refuse(request, document.patient, what="proxies.proxydocument", lookup=str(document_id))
    try:
        with document.file.open("rb") as stream:
            content = stream.read()  # at most PORTAL_PROXY_DOCUMENT_MAX_BYTES
    except OSError as missing:
        raise Http404 from missing
    record_read(request, access, "proxy.document_view", obj=document)
    response = HttpResponse(content, content_type=document.content_type)
    response["Content-Disposition"] = content_disposition_header(True, document.download_name) or "attachment"
    return response


@staff_page
@require_recent_auth
def staff_legal_representative(request: HttpRequest, patient_id: int) -> HttpResponse:
    """Record a legal representative for a patient, with the document that appoints them."""
    access = require_patient(request, patient_id, scope=None)
    if not access.is_staff_access:
        refuse(request, access.patient, what="patients.patient", lookup=str(patient_id))
    form = LegalRepresentativeForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        until = data["access_until"]
        try:
            actions.do_grant_legal_representative(
                Actor.from_request(request),
                access,
                grantee=data["username"],
                scopes=data["scopes"],
                expires_at=end_of_day(until, access.patient) if until else None,
                upload=data["document"],
            )
        except actions.ProxyRefused as refusal:
            form.add_error(None, str(refusal))
        else:
            messages.success(request, _("The legal representative can now act for this patient."))
            return redirect("staff:patient", patient_id=access.patient.pk)
    context = {"form": form, "patient": access.patient, "access": access}
    return render(request, "proxies/staff/legal_representative.html", context)
