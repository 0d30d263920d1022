"""Account maintenance: the patient's details, contact preferences, and closing the sign-in."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from portal.accounts.decorators import require_recent_auth
from portal.accounts.models import signed_in_user
from portal.audit.actor import Actor
from portal.notifications.models import Kind
from portal.patients import actions
from portal.patients.access import PatientAccess, Role, decide, record_read, refuse, require_patient
from portal.patients.forms import (
    CommunicationForm,
    ContactDetailsForm,
    DeactivateForm,
    EmailForm,
    LanguageForm,
)
from portal.patients.models import EmailChange, Patient, Scope
from portal.patients.selection import SESSION_KEY, patient_page
from portal.staff.decorators import staff_page


def _cannot_change(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    return render(request, "patients/cannot_change.html", {"access": access}, status=403)


@patient_page(scope=Scope.VIEW)
def details(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    """My details: contact details, language and how the clinic gets in touch."""
    record_read(request, access, "profile.view")
    preference = actions.communication_preference(access.patient)
    pending = EmailChange.objects.filter(
        patient=access.patient, status=EmailChange.Status.PENDING, requested_by=access.user
    ).first()
    context = {
        "access": access,
        "patient": access.patient,
        "preference": preference,
        "channels_by_kind": [
            (label, preference.wants("email", kind), preference.wants("sms", kind))
            for kind, label in Kind.choices
        ],
        "pending_email": pending if pending is not None and pending.usable() else None,
        "language_name": dict(settings.LANGUAGES).get(access.patient.preferred_language, ""),
    }
    return render(request, "patients/details.html", context)


@patient_page(scope=None)
@require_recent_auth
def contact(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    if not access.manages_account:
        return _cannot_change(request, access)
    form = ContactDetailsForm(request.POST or None, instance=Patient(**_contact_values(access.patient)))
    if request.method == "POST" and form.is_valid():
        changes = actions.do_update_contact_details(
            Actor.from_request(request), access, form.changed_values()
        )
        if changes:
            messages.success(request, _("Your contact details are updated."))
        else:
            messages.info(request, _("Nothing changed."))
        return redirect("profile:details")
    return render(request, "patients/contact.html", {"access": access, "form": form})


def _contact_values(patient: Patient) -> dict[str, str]:
    # The form edits a copy, so a rejected submission never touches the loaded patient.
    return {field: getattr(patient, field) for field in actions.CONTACT_FIELDS}


@patient_page(scope=None)
@require_recent_auth
def email(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    if not access.manages_account:
        return _cannot_change(request, access)
    form = EmailForm(request.POST or None, current=access.patient.email)
    if request.method == "POST" and form.is_valid():
        try:
            change = actions.do_request_email_change(
                Actor.from_request(request), access, form.cleaned_data["email"]
            )
        except actions.ProfileRefused as refusal:
            form.add_error("email", str(refusal))
        else:
            messages.success(
                request,
                _("We sent a link to %(email)s. Your email address changes when you open it.")
                % {"email": change.new_email},
            )
            return redirect("profile:details")
    return render(request, "patients/email.html", {"access": access, "form": form})


@require_recent_auth(allow_get=True)
def email_confirm(request: HttpRequest, token: str) -> HttpResponse:
    """The link in the confirmation email; only the person who asked can use it."""
    change = actions.email_change_from_token(token)
    access = decide(request.user, change.patient) if change is not None else None
    if change is None or access is None or change.requested_by_id != request.user.pk or not change.usable():
        return render(request, "patients/email_link_unusable.html", status=404)
    if request.method == "POST":
        try:
            actions.do_confirm_email_change(Actor.from_request(request), access, change)
        except actions.ProfileRefused as refusal:
            messages.error(request, str(refusal))
        else:
            request.session[SESSION_KEY] = change.patient_id
            messages.success(request, _("The email address is now %(email)s.") % {"email": change.new_email})
        return redirect("profile:details")
    return render(request, "patients/email_confirm.html", {"change": change})


@patient_page(scope=None)
def language(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    if not access.manages_account:
        return _cannot_change(request, access)
    form = LanguageForm(
        request.POST or None, initial={"preferred_language": access.patient.preferred_language}
    )
    if request.method == "POST" and form.is_valid():
        chosen = form.cleaned_data["preferred_language"]
        actions.do_update_preferred_language(Actor.from_request(request), access, chosen)
        response = redirect("profile:details")
        if access.role is Role.SELF:
            # The patient's own language is also the site's language for them.
            translation.activate(chosen)
            response.set_cookie(
                settings.LANGUAGE_COOKIE_NAME,
                chosen,
                max_age=settings.LANGUAGE_COOKIE_AGE,
                path=settings.LANGUAGE_COOKIE_PATH,
                domain=settings.LANGUAGE_COOKIE_DOMAIN,
                secure=settings.LANGUAGE_COOKIE_SECURE,
                httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
                samesite=settings.LANGUAGE_COOKIE_SAMESITE,
            )
        messages.success(request, _("The preferred language is updated."))
        return response
    return render(request, "patients/language.html", {"access": access, "form": form})


@patient_page(scope=None)
def communication(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    if not access.manages_account:
        return _cannot_change(request, access)
    preference = actions.communication_preference(access.patient)
    form = CommunicationForm(request.POST or None, patient=access.patient, preference=preference)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            actions.do_update_communication_preferences(
                Actor.from_request(request),
                access,
                email_updates=data["email_updates"],
                sms_updates=data["sms_updates"],
                sms_consent=data["sms_consent"],
                email_kinds=form.kinds("email"),
                sms_kinds=form.kinds("sms"),
                quiet_hours=form.quiet_hours(),
            )
        except actions.ProfileRefused as refusal:
            form.add_error(None, str(refusal))
        else:
            messages.success(request, _("Your contact preferences are updated."))
            return redirect("profile:details")
    context = {
        "access": access,
        "form": form,
        "preference": preference,
        "campus": access.patient.primary_campus,
        "time_zone": settings.TIME_ZONE,
    }
    return render(request, "patients/communication.html", context)


@login_required
@require_recent_auth
def deactivate(request: HttpRequest) -> HttpResponse:
    """Close the patient's own sign-in. Their records stay; staff can reopen it."""
    user = signed_in_user(request)
    patient = Patient.objects.filter(account=user).first()
    if patient is None or getattr(user, "is_workforce", False):
        return render(request, "patients/deactivate_elsewhere.html", status=403)
    form = DeactivateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        actions.do_deactivate_account(Actor.from_request(request), user)
        logout(request)
        return render(request, "patients/deactivated.html")
    return render(request, "patients/deactivate.html", {"form": form, "patient": patient})


@staff_page
@require_POST
@require_recent_auth
def staff_reactivate(request: HttpRequest, patient_id: int) -> HttpResponse:
    access = require_patient(request, patient_id, scope=None)
    if not access.is_staff_access:
        refuse(request, access.patient, what="patients.patient", lookup=str(patient_id))
    if actions.do_reactivate_account(Actor.from_request(request), access):
        messages.success(request, _("The patient can sign in again."))
    return redirect("staff:patient", patient_id=access.patient.pk)
