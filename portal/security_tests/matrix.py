"""The access matrix's registry: every URL pattern, and how to fill in each of its arguments.

`routes()` walks the whole resolver, included resolvers too, so a new route joins the
matrix by itself. A route is tried only if every argument it takes has a `Kind` here
(looked up as "url-name:arg", then "namespace:arg", then "arg"); one with an argument
nobody registered fails the matrix, naming it. A route answers anonymous visitors only
if `PUBLIC` lists it, with the reason.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.apps import apps
from django.db import models
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RegexPattern, RoutePattern

from portal.patients.models import Scope
from portal.security_tests.matrix_objects import MARKER, Victim, build

MISSING_ID = 987654321
ALL = frozenset(str(scope) for scope in Scope)
VIEW = frozenset({str(Scope.VIEW)})
MESSAGE = frozenset({str(Scope.MESSAGE)})
SCHEDULE = frozenset({str(Scope.SCHEDULE), str(Scope.VIEW)})
BILLING = frozenset({str(Scope.BILLING)})
NOBODY: frozenset[str] = frozenset()  # a user's own row, or staff-only: no grant reaches it


@dataclass(frozen=True)
class Kind:
    """What one URL argument names.

    `readers` are the scopes any one of which would let a proxy of the victim read the
    row: None for something that is not the victim's (a catalogue row, a code, a token).
    """

    make: Callable[[Victim], Any]
    missing: Any
    readers: frozenset[str] | None


def owned(label: str, readers: frozenset[str] = ALL, **given: Any) -> Kind:
    """A row of `label` owned (through its relations) by the victim."""

    def make(victim: Victim) -> Any:
        model = apps.get_model(label)
        return victim.row(label, lambda v: build(model, v, **_resolved(given, v))).pk

    return Kind(make, MISSING_ID, readers)


def catalogue(label: str, attribute: str = "pk") -> Kind:
    """A row of the clinic's own (a campus, a visit type): nobody's health data."""

    def make(victim: Victim) -> Any:
        model = apps.get_model(label)
        return getattr(victim.row(label, lambda v: build(model, v)), attribute)

    return Kind(make, MISSING_ID if attribute == "pk" else "no-such-thing", None)


def literal(value: str, missing: str = "no-such-thing") -> Kind:
    return Kind(lambda victim: value, missing, None)


def _resolved(given: dict[str, Any], victim: Victim) -> dict[str, Any]:
    return {name: value(victim) if callable(value) else value for name, value in given.items()}


def _victim(victim: Victim) -> Any:
    return victim.patient.pk


def _trend_code(victim: Victim) -> Any:
    row = victim.row("records.observation", lambda v: build(apps.get_model("records.observation"), v))
    return getattr(row, "code")  # noqa: B009  (a row of a model looked up by label)


def _key(victim: Victim) -> str:
    return "matrix-payment-key"


KINDS: dict[str, Kind] = {
    "patient": Kind(_victim, MISSING_ID, ALL),
    # The record (view scope).
    "report": owned("records.resultreport", VIEW),
    "image": owned("records.imagingimage", VIEW),
    "observation": owned("records.observation", VIEW),
    "note": owned("records.clinicalnote", VIEW),
    "visit": owned("records.encounter", VIEW),
    "document": owned("records.document", VIEW),
    "share_link": owned("records.sharelink", VIEW),
    "amendment": owned("records.amendmentrequest", VIEW),
    "trend_code": Kind(_trend_code, "NO-SUCH-CODE", None),
    "hold_rule": catalogue("records.releaseholdrule"),
    # Appointments (schedule scope; a video visit's page also takes view).
    "appointment": owned("scheduling.appointment", SCHEDULE),
    "appointment_request": owned("scheduling.appointmentrequest", SCHEDULE),
    "waitlist_entry": owned("scheduling.waitlistentry", SCHEDULE),
    "slot_offer": owned("scheduling.slotoffer", SCHEDULE),
    "notice": owned("scheduling.patientnotice", SCHEDULE),
    "coverage": owned("patients.coverage", ALL),
    "slot": catalogue("scheduling.slot"),
    "questionnaire": catalogue("scheduling.questionnaire"),
    "consent_form": catalogue("scheduling.consentform"),
    "visit_type": catalogue("scheduling.visittype"),
    "template": catalogue("scheduling.scheduletemplate"),
    "block": catalogue("scheduling.scheduleblock"),
    "practitioner": catalogue("organization.practitioner"),
    "campus_slug": catalogue("organization.campus", "slug"),
    "card_side": literal("front", "sideways"),
    # Messages (message scope).
    "thread": owned("messaging.thread", MESSAGE),
    "attachment": owned("messaging.attachment", MESSAGE),
    "pharmacy": owned("messaging.pharmacy", MESSAGE),
    "refill": owned("messaging.refillrequest", MESSAGE),
    "referral": owned("messaging.referral", MESSAGE | VIEW),  # the status shows to the view scope
    "evisit": owned("telehealth.evisit", MESSAGE),
    "evisit_photo": owned("telehealth.evisitphoto", MESSAGE),
    "condition_slug": catalogue("telehealth.evisitcondition", "slug"),
    "participant": owned("telehealth.participant", NOBODY),
    # Bills (billing scope).
    "statement": owned("billing.statement", BILLING),
    "payment": owned("billing.payment", BILLING, idempotency_key=_key),
    "payment_key": Kind(lambda v: (KINDS["payment"].make(v), _key(v))[1], "no-such-key", BILLING),
    "plan": owned("billing.paymentplan", BILLING),
    "estimate": owned("billing.estimate", BILLING),
    "dispute": owned("billing.dispute", BILLING),
    "assistance": owned("billing.assistanceapplication", BILLING),
    "saved_card": owned("billing.savedcard", NOBODY),  # the victim's own card
    "sandbox_reference": literal("matrix-reference"),
    # Proxies, registration, notifications, apps: the victim's account or staff queues.
    "proxy_grant": owned("patients.proxygrant", NOBODY),
    "proxy_invitation": owned("proxies.proxyinvitation", NOBODY),
    "proxy_request": owned("proxies.proxyrequest", NOBODY),
    "proxy_document": owned("proxies.proxydocument", NOBODY),
    "activation_code": owned("registration.activationcode", NOBODY),
    "access_request": owned(
        "registration.accessrequest",
        NOBODY,
        matched_patient=lambda v: v.patient,
        campus=lambda v: v.world.campus,
    ),
    "notification": owned("notifications.notification", NOBODY, patient=lambda v: v.patient),
    "task": owned("notifications.task", ALL),
    "authorization": owned("smart.patientauthorization", VIEW),  # a proxy may disconnect apps
    "app_registration": owned("smart.appregistration", NOBODY),
    "backend_service": catalogue("bulk.backendservice"),
    "patient_group": owned("bulk.patientgroup", NOBODY, campus=lambda v: v.world.campus),
    "export_job": owned("bulk.exportjob", NOBODY),
    "export_file": owned("bulk.exportfile", NOBODY),
    # Capabilities carried in the URL itself: a made-up one is all anyone but its holder has.
    "token": literal("matrix-not-a-token"),
    "fhir_rest": literal("Nothing/here"),
    "fhir_patient": Kind(lambda v: f"patient-{v.patient.pk}", f"patient-{MISSING_ID}", VIEW),
    # allauth's and the admin's own arguments: no patient data behind them.
    "allauth_key": literal("matrix-key"),
    "allauth_uid": literal("1"),
    "admin_arg": literal("1"),
    "admin_app": literal("accounts"),
    "webauthn_key": literal("1"),
}

# URL argument -> kind; "url-name:arg" and "namespace:arg" win over a bare "arg".
KWARGS: dict[str, str] = {
    "patient_id": "patient",
    "report_id": "report",
    "image_id": "image",
    "observation_id": "observation",
    "note_id": "note",
    "visit_id": "visit",
    "records:document_id": "document",
    "proxies:document_id": "proxy_document",
    "link_id": "share_link",
    "corrections:request_id": "amendment",
    "staff_records:request_id": "amendment",
    "appointment_requests:request_id": "appointment_request",
    "desk:request_id": "appointment_request",
    "proxies:request_id": "proxy_request",
    "registration_staff:request_id": "access_request",
    "records:code": "trend_code",
    "rule_id": "hold_rule",
    "appointment_id": "appointment",
    "entry_id": "waitlist_entry",
    "offer_id": "slot_offer",
    "notice_id": "notice",
    "coverage_id": "coverage",
    "slot_id": "slot",
    "questionnaire_id": "questionnaire",
    "form_id": "consent_form",
    "visit_type_id": "visit_type",
    "template_id": "template",
    "block_id": "block",
    "practitioner_id": "practitioner",
    "campus_slug": "campus_slug",
    "side": "card_side",
    "thread_id": "thread",
    "attachment_id": "attachment",
    "pharmacy_id": "pharmacy",
    "refill_id": "refill",
    "referral_id": "referral",
    "evisit_id": "evisit",
    "photo_id": "evisit_photo",
    "condition_slug": "condition_slug",
    "participant_id": "participant",
    "statement_id": "statement",
    "payment_id": "payment",
    "billing:key": "payment_key",
    "plan_id": "plan",
    "estimate_id": "estimate",
    "dispute_id": "dispute",
    "application_id": "assistance",
    "card_id": "saved_card",
    "reference": "sandbox_reference",
    "grant_id": "proxy_grant",
    "invitation_id": "proxy_invitation",
    "code_id": "activation_code",
    "notification_id": "notification",
    "task_id": "task",
    "authorization_id": "authorization",
    "registration_id": "app_registration",
    "service_id": "backend_service",
    "group_id": "patient_group",
    "job_id": "export_job",
    "file_id": "export_file",
    "token": "token",
    "fhir_api:everything:resource_id": "fhir_patient",
    "fhir_api:rest": "fhir_rest",
    "account_confirm_email:key": "allauth_key",
    "account_reset_password_from_key:key": "allauth_key",
    "uidb36": "allauth_uid",
    "pk": "webauthn_key",
    "admin:object_id": "admin_arg",
    "admin:id": "admin_arg",
    "admin:url": "admin_arg",
    "admin:app_label": "admin_app",
    "admin:content_type_id": "admin_arg",
}

# The FHIR read route is tried once per resource type: the kind its id names and the
# id's prefix. A type the API serves that is missing here fails the matrix.
FHIR_TYPES: dict[str, tuple[str, str]] = {
    "AllergyIntolerance": ("records.allergy", "allergy"),
    "Appointment": ("scheduling.appointment", "appointment"),
    "Binary": ("records.document", "document"),
    "CarePlan": ("records.encounter", "visitplan"),
    "CareTeam": ("", "careteam"),
    "Condition": ("records.problem", "problem"),
    "Coverage": ("patients.coverage", "coverage"),
    "DiagnosticReport": ("records.resultreport", "resultreport"),
    "DocumentReference": ("records.clinicalnote", "clinicalnote"),
    "Encounter": ("records.encounter", "encounter"),
    "Immunization": ("records.immunization", "immunization"),
    "MedicationRequest": ("records.medication", "medication"),
    "Observation": ("records.observation", "observation"),
    "Patient": ("patients.patient", "patient"),
    "Procedure": ("records.procedure", "procedure"),
    # Shared by every patient (the clinic's campuses and staff): nobody's health data.
    "Location": ("", "campus"),
    "Organization": ("", "campus"),
    "Practitioner": ("", "practitioner"),
}

# Routes anonymous visitors may use, and why none of them shows patient data.
PUBLIC: dict[str, str] = {
    "healthz": "liveness probe, says only 'ok'",
    "readyz": "readiness probe, database and worker heartbeat only",
    "metrics": "Prometheus counters, loopback or token only, no patient data",
    "set_language": "stores a language choice in a cookie",
    "accounts:forgot_username": "recovery form, answers the same for anyone",
    "accounts:forgot_username_done": "static 'check your email' page",
    "accounts:session_status": "asks how long the caller's own session has left",
    "account_login": "the sign-in page",
    "account_logout": "signs the caller out",
    "account_inactive": "static allauth page",
    "account_signup": "allauth signup (closed: registration goes through the clinic number)",
    "account_reauthenticate": "sends anonymous visitors to sign in",
    "account_email_verification_sent": "static allauth page",
    "account_confirm_login_code": "allauth login-code step, needs a pending sign-in",
    "account_confirm_email": "email confirmation by emailed key",
    "account_reset_password": "password reset request, same answer for anyone",
    "account_reset_password_done": "static page",
    "account_reset_password_from_key": "password reset by emailed key",
    "account_reset_password_from_key_done": "static page",
    "mfa_authenticate": "second step of a pending sign-in",
    "mfa_login_webauthn": "passkey sign-in",
    "registration:create_account": "create an account with clinic number and code",
    "registration:choose_sign_in": "second step of create account, needs the first",
    "registration:check_email": "static page",
    "registration:request_access": "request access form",
    "registration:international": "international patients' request form",
    "registration:request_sent": "static page",
    "notifications:unsubscribe": "one-click unsubscribe by signed token",
    "profile:email_confirm": "email change confirmation by signed token",
    "proxies:invitation": "proxy invitation by signed token",
    "proxies:answer_invitation": "proxy invitation answer by signed token",
    "shared:open": "a share link, by its secret token",
    "shared:pdf": "a share link's PDF, by its secret token",
    "interfaces:import": "the interface engine's endpoint, authenticated by its own token",
    "sandbox_gateway:tokens": "the sandbox card processor's tokenising endpoint (test gateway)",
    "sandbox_gateway:authenticate": "the sandbox processor's 3-D Secure page (test gateway)",
    "fhir_api:metadata": "the CapabilityStatement",
    "fhir_api:smart_configuration": "SMART discovery document",
    "smart:token": "OAuth token endpoint (client authenticates itself)",
    "smart:revoke": "OAuth revocation endpoint (client authenticates itself)",
    "smart:introspect": "OAuth introspection (client authenticates itself)",
    "smart:jwks": "the authorization server's public keys",
    "smart:smart_configuration": "SMART discovery document",
    "smart:openid_configuration": "OpenID discovery document",
    "healthcards:jwks": "the health-card issuer's public keys",
    "offline": "the installable app's static offline page",
    "service_worker": "the installable app's service worker script",
    "manifest": "the web app manifest",
    "csp_report": "browsers post CSP violation reports here, signed in or not",
    "mailbox:list": "the demo's outbox viewer (never in production); email carries no health data",
}


@dataclass(frozen=True)
class Route:
    """One URL pattern, with the pattern pieces that make its path."""

    name: str  # "namespace:name", or the path when the pattern has no name
    parts: tuple[Any, ...]
    args: tuple[str, ...]

    @property
    def namespace(self) -> str:
        return self.name.partition(":")[0] if ":" in self.name else ""

    def path(self, values: dict[str, Any]) -> str:
        return "/" + "".join(_fill(part, values) for part in self.parts)


def routes() -> list[Route]:
    return sorted(_walk(get_resolver(), (), ""), key=lambda route: route.name)


def _walk(resolver: URLResolver, parts: tuple[Any, ...], namespace: str) -> Iterator[Route]:
    for entry in resolver.url_patterns:
        here = (*parts, entry.pattern)
        if isinstance(entry, URLResolver):
            inner = (
                f"{namespace}:{entry.namespace}"
                if namespace and entry.namespace
                else entry.namespace or namespace
            )
            yield from _walk(entry, here, inner or "")
        elif isinstance(entry, URLPattern):
            args = tuple(name for part in here for name in part.regex.groupindex)
            label = entry.name or "".join(str(part) for part in here)
            yield Route(f"{namespace}:{label}" if namespace else label, here, args)


def kind_for(route: Route, arg: str) -> str | None:
    for key in (f"{route.name}:{arg}", f"{route.namespace}:{arg}", arg):
        if key in KWARGS:
            return KWARGS[key]
    return None


_GROUP = re.compile(r"\(\?P<(\w+)>[^()]*(?:\([^()]*\)[^()]*)*\)")
_CONVERTER = re.compile(r"<(?:\w+:)?(\w+)>")


def _fill(part: Any, values: dict[str, Any]) -> str:
    if isinstance(part, RoutePattern):
        return _CONVERTER.sub(lambda match: str(values[match[1]]), str(part))
    assert isinstance(part, RegexPattern), part
    text = _GROUP.sub(lambda match: str(values[match[1]]), str(part))
    return text.lstrip("^").rstrip("$")


@cache
def patient_owned_models() -> list[tuple[type[models.Model], str]]:
    """Every model with a row of the victim's, and the lookup from it to the patient (one or two hops)."""
    from portal.patients.models import Patient

    direct = {
        model: field.name
        for model in apps.get_models()
        for field in model._meta.fields
        if field.is_relation and field.related_model is Patient and model._meta.label != "audit.AuditEvent"
    }
    found: list[tuple[type[models.Model], str]] = list(direct.items())
    for model in apps.get_models():
        if model in direct:
            continue
        for field in model._meta.fields:
            owner = field.related_model if field.is_relation else None
            if owner in direct:
                found.append((model, f"{field.name}__{direct[owner]}"))  # type: ignore[index]
                break
    return found


__all__ = ["KINDS", "KWARGS", "MARKER", "PUBLIC", "Kind", "Route", "kind_for", "routes"]
