"""The public side: "Create account" (two steps), "Request access" and "International patients"."""

from __future__ import annotations

import logging
import time
from typing import Any, cast

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib import messages
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from portal.accounts.models import User
from portal.audit.actor import Actor
from portal.organization.models import Campus, CareTeam, OpeningHours
from portal.registration import actions, limits
from portal.registration.forms import (
    MISMATCH_MESSAGE,
    TOO_MANY_MESSAGE,
    AccessRequestForm,
    ChooseSignInForm,
    CreateAccountForm,
    InternationalRequestForm,
)
from portal.registration.hours import summarize
from portal.registration.matching import Claim, Verdict, check_claim, clinic_number_key, old_enough
from portal.registration.models import AccessRequest, ActivationCode

logger = logging.getLogger(__name__)

PENDING_KEY = "registration_pending"
SENT_TO_KEY = "registration_sent_to"
# How long the second step stays open after the first succeeded.
PENDING_SECONDS = 30 * 60


def _page(request: HttpRequest, template: str, context: dict[str, Any], status: int = 200) -> HttpResponse:
    context = {"min_age": settings.PORTAL_MIN_REGISTRATION_AGE, **context}
    return render(request, template, context, status=status)


def _signed_in(request: HttpRequest) -> bool:
    return bool(request.user.is_authenticated)


@require_http_methods(["GET", "POST"])
def create_account(request: HttpRequest) -> HttpResponse:
    """Step one: clinic number, legal name, date of birth, email and activation code."""
    if _signed_in(request):
        return redirect("home")
    form = CreateAccountForm(request.POST or None)
    if request.method != "POST":
        return _step_one(request, form)
    actor = Actor.from_request(request)
    valid = form.is_valid()
    if form.bot_suspected:
        limits.per_address().hit(actor.client_ip or "unknown")
        actions.do_note_registration_attempt(actor, succeeded=False, reason="honeypot")
        return _step_one(request, form)
    if not valid:
        return _step_one(request, form)
    data = form.cleaned_data
    if not limits.allow_attempt(actor.client_ip, clinic_number_key(data["clinic_number"])):
        actions.do_note_registration_attempt(actor, succeeded=False, reason="rate_limited")
        form.add_error(None, TOO_MANY_MESSAGE)
        return _step_one(request, form, status=429)
    claim = Claim(
        data["clinic_number"],
        data["given_name"],
        data["family_name"],
        data["birth_date"],
        data["activation_code"],
    )
    return _after_check(request, form, actor, check_claim(claim))


def _after_check(
    request: HttpRequest, form: CreateAccountForm, actor: Actor, verdict: Verdict
) -> HttpResponse:
    patient = verdict.patient
    if not verdict.matched or patient is None or verdict.code is None:
        reason = verdict.mismatch.value if verdict.mismatch else "no_match"
        actions.do_note_registration_attempt(actor, succeeded=False, reason=reason, patient=patient)
        form.add_error(None, MISMATCH_MESSAGE)
        return _step_one(request, form)
    if not old_enough(patient):
        actions.do_note_registration_attempt(actor, succeeded=False, reason="under_age", patient=patient)
        return _page(request, "registration/too_young.html", {})
    email = form.cleaned_data["email"]
    if EmailAddress.objects.filter(email__iexact=email, verified=True).exists():
        # Only someone who has matched every detail and a live code gets this far.
        actions.do_note_registration_attempt(actor, succeeded=False, reason="email_in_use", patient=patient)
        form.add_error("email", _("Another account uses this email address. Enter a different one."))
        return _step_one(request, form)
    actions.do_note_registration_attempt(actor, succeeded=True, patient=patient)
    request.session.cycle_key()
    request.session[PENDING_KEY] = {"code": verdict.code.pk, "email": email, "at": time.time()}
    return redirect("registration:choose_sign_in")


def _step_one(request: HttpRequest, form: CreateAccountForm, status: int = 200) -> HttpResponse:
    if form.is_bound:
        # The code is never echoed back: after a failed attempt it is typed afresh.
        data = cast(Any, form.data).copy()  # a QueryDict's copy is mutable
        data["activation_code"] = ""
        form.data = data
    return _page(request, "registration/create_account.html", {"form": form}, status)


def _pending_code(request: HttpRequest) -> tuple[ActivationCode, str] | None:
    pending: Any = request.session.get(PENDING_KEY)
    if not isinstance(pending, dict) or time.time() - float(pending.get("at", 0)) > PENDING_SECONDS:
        return None
    code = ActivationCode.objects.select_related("patient").filter(pk=int(pending.get("code", 0))).first()
    if code is None or not code.is_usable() or code.patient.account_id is not None:
        return None
    return code, str(pending.get("email", ""))


@require_http_methods(["GET", "POST"])
def choose_sign_in(request: HttpRequest) -> HttpResponse:
    """Step two: a username and password for the patient whose code matched."""
    if _signed_in(request):
        return redirect("home")
    pending = _pending_code(request)
    if pending is None:
        request.session.pop(PENDING_KEY, None)
        messages.info(request, _("Please start again: enter your details and activation code."))
        return redirect("registration:create_account")
    code, email = pending
    patient = code.patient
    form = ChooseSignInForm(
        request.POST or None, given_name=patient.given_name, family_name=patient.family_name, email=email
    )
    if request.method == "POST" and form.is_valid():
        try:
            user = actions.do_register_patient(
                Actor.from_request(request),
                code.pk,
                username=form.cleaned_data["username"],
                password=form.cleaned_data["password1"],
                email=email,
            )
        except actions.UsernameTaken as taken:
            form.add_error("username", str(taken))
        except actions.CodeNoLongerUsable:
            request.session.pop(PENDING_KEY, None)
            messages.error(request, MISMATCH_MESSAGE)
            return redirect("registration:create_account")
        else:
            request.session.pop(PENDING_KEY, None)
            request.session[SENT_TO_KEY] = email
            _send_confirmation(request, user)
            return redirect("registration:check_email")
    return _page(request, "registration/choose_sign_in.html", {"form": form, "patient": patient})


def _send_confirmation(request: HttpRequest, user: User) -> None:
    address = EmailAddress.objects.filter(user=user, primary=True).first()
    if address is None:
        return
    try:
        address.send_confirmation(request, signup=True)
    except OSError:
        # The account exists; signing in sends the confirmation again.
        logger.exception("Could not send the email confirmation for a new registration")
        messages.warning(
            request, _("We could not send the email just now. Sign in later and we will send it again.")
        )


def check_email(request: HttpRequest) -> HttpResponse:
    """After step two: the account waits for its email address to be confirmed."""
    return _page(request, "registration/check_email.html", {"email": request.session.get(SENT_TO_KEY, "")})


@require_http_methods(["GET", "POST"])
def request_access(request: HttpRequest) -> HttpResponse:
    """No activation code: ask the campus's scheduling desk for one."""
    return _access_request(
        request, AccessRequestForm(request.POST or None), "registration/request_access.html"
    )


@require_http_methods(["GET", "POST"])
def international(request: HttpRequest) -> HttpResponse:
    """International patients ask the International office, whose contacts are shown."""
    form = InternationalRequestForm(request.POST or None)
    return _access_request(request, form, "registration/international.html", international_contacts())


def _access_request(
    request: HttpRequest, form: AccessRequestForm, template: str, context: dict[str, Any] | None = None
) -> HttpResponse:
    if _signed_in(request):
        return redirect("home")
    sent = f"{reverse('registration:request_sent')}?kind={form.kind}"
    status = 200
    if request.method == "POST":
        actor = Actor.from_request(request)
        valid = form.is_valid()
        if form.bot_suspected:
            # Bots are told it worked, and learn nothing.
            limits.allow_request(actor.client_ip)
            actions.do_note_refused_access_request(actor, reason="honeypot")
            return redirect(sent)
        if valid and not limits.allow_request(actor.client_ip):
            actions.do_note_refused_access_request(actor, reason="rate_limited")
            form.add_error(None, TOO_MANY_MESSAGE)
            status = 429
        elif valid:
            fields = {name: form.cleaned_data[name] for name in form.Meta.fields}
            actions.do_submit_access_request(actor, kind=form.kind, language=get_language() or "en", **fields)
            return redirect(sent)
    return _page(request, template, {"form": form, **(context or {})}, status=status)


def request_sent(request: HttpRequest) -> HttpResponse:
    kind = request.GET.get("kind")
    context: dict[str, Any] = {"international": kind == AccessRequest.Kind.INTERNATIONAL}
    if context["international"]:
        context.update(international_contacts())
    return _page(request, "registration/request_sent.html", context)


def international_contacts() -> dict[str, Any]:
    """The International office and each campus's international line with its hours."""
    office = CareTeam.objects.filter(kind=CareTeam.Kind.INTERNATIONAL_OFFICE).order_by("pk").first()
    hours = OpeningHours.objects.filter(service=OpeningHours.Service.SCHEDULING)
    campuses = (
        Campus.objects.filter(is_active=True)
        .exclude(international_phone="")
        .prefetch_related(Prefetch("opening_hours", queryset=hours))
    )
    lines = [(campus, summarize(campus.opening_hours.all())) for campus in campuses]
    return {"office": office, "campus_lines": lines}
