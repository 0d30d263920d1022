"""Every GET page route, filled with demo-like rows, for each persona who may open it.

`test_every_route_axe` walks Django's URL resolver, fills each route's URL kwargs from the
rows the feature suites' builders make, asks the Django test client (signed in as each
persona) which URLs answer a full HTML page, and hands those to the browser. A route whose
kwargs have no source here, or that no persona can open, fails the test unless `SKIPPED`
says why: so a new page is covered, or explained, the day it is added.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.contrib import admin
from django.db import models
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from portal.accounts.models import User
from portal.billing.models import (
    AssistanceApplication,
    Dispute,
    Estimate,
    Payment,
    PaymentPlan,
    SavedCard,
    Statement,
)
from portal.billing.tests.support import billing_world
from portal.browser_tests import test_billing_every_page as billing_pages
from portal.browser_tests import test_messaging_every_page as messaging_pages
from portal.browser_tests import test_record_every_page as record_pages
from portal.browser_tests import test_scheduling_every_page as scheduling_pages
from portal.browser_tests import test_telehealth_every_page as telehealth_pages
from portal.messaging.models import Attachment, Pharmacy, Referral, RefillRequest, Thread
from portal.messaging.tests.support import messaging_world
from portal.organization.models import Campus, CareTeam, Department, Practitioner
from portal.patients.models import Coverage, Patient, ProxyGrant
from portal.patients.tests.support import sign_in_recently
from portal.records.models import (
    AmendmentRequest,
    ClinicalNote,
    Document,
    Encounter,
    ImagingImage,
    Observation,
    ReleaseHoldRule,
    ResultReport,
    ShareLink,
)
from portal.scheduling.models import (
    Appointment,
    AppointmentRequest,
    ConsentForm,
    PatientNotice,
    Questionnaire,
    ScheduleBlock,
    ScheduleTemplate,
    Slot,
    SlotOffer,
    VisitType,
    WaitlistEntry,
)
from portal.telehealth.models import EVisit, EVisitCondition, EVisitPhoto, Participant
from portal.test import World

PERSONAS = ("patient", "proxy", "clinician", "scheduler", "billing", "admin", "anonymous")
CANDIDATES = 6  # values tried per URL kwarg: enough to meet one the persona may see

# Routes that are not pages of their own, with the reason. Everything else must be filled.
SKIPPED_NAMESPACES: dict[str, str] = {
    "fhir_api": "the FHIR R4 API answers JSON, not pages",
    "video_api": "the video call's signalling API answers JSON",
}
ACTION = "a form's target (an action on a row), not a page of its own"
EVISIT = "needs an e-visit, which these rows have none of (test_evisits and test_telehealth_every_page)"
TOKEN = "needs a raw one-time token that exists only when it is made; the feature's flow test opens it"
SKIPPED: dict[str, str] = {
    "account_confirm_email": TOKEN,
    "account_reset_password_from_key": TOKEN,
    "notifications:unsubscribe": TOKEN + " (test_messaging_every_page)",
    "proxies:invitation": TOKEN + " (test_proxies)",
    "proxies:answer_invitation": TOKEN + " (test_proxies)",
    "profile:email_confirm": TOKEN,
    "shared:open": TOKEN + " (test_record_sharing)",
    "shared:pdf": "a PDF download behind a raw share token",
    "billing:payment_return_key": "the payment gateway's return address: redirects to the payment",
    "sandbox_gateway:authenticate": "the sandbox bank's page for one payment reference (test_billing_every_page)",
    "mfa_remove_webauthn": "needs a registered passkey (test_mfa)",
    "mfa_edit_webauthn": "needs a registered passkey (test_mfa)",
    "set_language": ACTION,
    "account_set_password": "only for accounts without a password (every persona has one)",
    "account_confirm_login_code": "only in the middle of a sign-in by emailed code",
    "mfa_authenticate": "only in the middle of a two-step sign-in (test_mfa)",
    "mfa_reauthenticate": "only when a sensitive page asks a two-step user again (test_mfa)",
    "mfa_deactivate_totp": "needs an authenticator app set up (test_mfa)",
    "mfa_view_recovery_codes": "needs two-step sign-in set up (test_mfa)",
    "mfa_download_recovery_codes": "a text download; needs two-step sign-in set up",
    "mfa_reauthenticate_webauthn": "needs a registered passkey (test_mfa)",
    "mfa_login_webauthn": "the passkey sign-in ceremony's endpoint, answered by script",
    "registration:choose_sign_in": "only in the middle of registering with a code (test_registration)",
    "registration_staff:request": "needs an access request from the registration flow (test_registration)",
    "registration_staff:revoke": ACTION,
    "notifications:open": ACTION,
    "staff_notifications:open": ACTION,
    "notifications:complete_task": ACTION,
    "proxies:cancel_invitation": ACTION,
    "proxies:staff_request": "needs a proxy request with documents (test_proxies)",
    "proxies:staff_document": "a document download behind a proxy request",
    "records:image": "an image file (a DICOM preview), not a page",
    "record_sharing:detail": "needs a share link, made with its raw token (test_record_sharing)",
    "record_sharing:revoke": ACTION,
    "record_export:print": "needs the download form's choices in the query (test_record)",
    "record_export:pdf": "a PDF download",
    "record_export:pdf_full": "a PDF download",
    "record_export:fhir": "a FHIR JSON download",
    "record_export:fhir_full": "a FHIR JSON download",
    "corrections:new": "needs the record item to correct in the query (test_record_corrections)",
    "staff_records:deactivate_hold_rule": ACTION,
    "booking:slots": "needs the visit type and campus in the query (test_scheduling_every_page)",
    "booking:confirm": "needs the visit type in the query (test_scheduling_every_page)",
    "checkin:card": "an insurance card photo, not a page",
    "billing:insurance_card": "an insurance card photo, not a page",
    "billing:payment_return": "the gateway's return address: redirects to the payment",
    "billing:dispute_new": "needs the statement in the query (test_billing_every_page)",
    "smart:authorize": "needs an app's OAuth request in the query (test_smart_launch)",
    "connected_apps:disconnect": ACTION,
    "developers:new_secret": ACTION,
    "staff_apps:approve": ACTION,
    "staff_apps:reject": ACTION,
    "staff_apps:suspend": ACTION,
    "staff_bulk:service": "needs a registered backend service (portal.bulk tests)",
    "staff_bulk:keys": "needs a registered backend service (portal.bulk tests)",
    "staff_bulk:suspend": ACTION,
    "staff_bulk:reinstate": ACTION,
    **dict.fromkeys(
        [
            "evisits:detail",
            "evisits:add_photo",
            "evisits:photo",
            "evisits:remove_photo",
            "evisits:submit",
            "evisits:withdraw",
            "staff_evisits:review",
            "staff_evisits:claim",
            "staff_evisits:reply",
            "staff_evisits:redirect",
            "staff_evisits:photo",
        ],
        EVISIT,
    ),
    "staff_bulk:group": "needs a patient group (portal.bulk tests)",
    "admin:login": "redirects to the portal's sign-in (secure_admin_login)",
    "admin:logout": ACTION,
    "admin:password_change": "the administrator's own three password boxes, as admin:auth_user_password_change",
    "admin:password_change_done": "one sentence on admin:index's template, after admin:password_change",
    "admin:jsi18n": "the admin's translations, a script",
    "admin:autocomplete": "JSON for autocomplete widgets (no ModelAdmin registers one)",
    "admin:view_on_site": "redirects to an object's own page",
}

# The Django admin ----------------------------------------------------------------------------
# Each of the ~24 registered models has a changelist, add, change, delete and history page (over
# 120 in all), every one drawn by the same few stock templates and widgets: checking them all
# would add minutes to the walk. These pages, about 1 s each, cover each template and each kind of
# list, form, inline and widget the portal's admin (and the libraries' admins it installs)
# registers. No ModelAdmin uses autocomplete_fields, date_hierarchy or list_editable; when one
# does, add its page here. The portal's fixes: portal/templates/admin/base_site.html.
ADMIN_SAMPLE: dict[str, str] = {
    "admin:index": "the index: every app and model, recent actions",
    "admin:app_list": "an app's index (every app's is the same template)",
    "admin:accounts_user_changelist": "a changelist with list filters, search, actions, many columns",
    "admin:accounts_user_add": "UserAdmin's add form (passwords, the usable-password choice)",
    "admin:accounts_user_change": "fieldsets, filter_horizontal, split date-time widgets, read-only hash",
    "admin:auth_user_password_change": "UserAdmin's set-password form",
    "admin:organization_campus_change": "a tabular inline with time widgets, prepopulated slug",
    "admin:organization_practitioner_change": "raw_id_fields, related-object links, two filter boxes",
    "admin:audit_auditevent_changelist": "a read-only changelist: no actions, no full count",
    "admin:audit_auditevent_change": "a view-only object page (no change permission)",
    "admin:telehealth_evisitcondition_add": "a custom ModelForm: JSON field, help texts, add-related icons",
    "admin:organization_campus_delete": "the delete confirmation, with related objects",
    "admin:organization_campus_history": "an object's history",
}
ADMIN_APP = "organization"  # the app whose index is checked
ADMIN_UNSAMPLED = "a Django admin page drawn like a sampled one, see ADMIN_SAMPLE"


def _pks(*sources: type[models.Model]) -> Callable[[], list[Any]]:
    def values() -> list[Any]:
        found: set[int] = set()
        for model in sources:
            found.update(model._default_manager.order_by("pk").values_list("pk", flat=True)[: CANDIDATES * 4])
        return sorted(found)

    return values


def _field(model: type[models.Model], name: str) -> Callable[[], list[Any]]:
    return lambda: list(model._default_manager.order_by("pk").values_list(name, flat=True).distinct())


def _fixed(*values: Any) -> Callable[[], list[Any]]:
    return lambda: list(values)


def _patients() -> list[Any]:
    # Alice first: she has the fullest record, so her pages are found in one try.
    return list(Patient.objects.order_by("clinic_number").values_list("pk", flat=True))


# Where each URL kwarg's values come from (a name means different rows in different apps).
KWARG_SOURCES: dict[str, Callable[[], list[Any]]] = {
    "appointment_id": _pks(Appointment),
    "patient_id": _patients,
    "evisit_id": _pks(EVisit),
    "request_id": _pks(AppointmentRequest, AmendmentRequest),
    "thread_id": _pks(Thread),
    "practitioner_id": _pks(Practitioner),
    "referral_id": _pks(Referral),
    "report_id": _pks(ResultReport),
    "plan_id": _pks(PaymentPlan),
    "payment_id": _pks(Payment),
    "coverage_id": _pks(Coverage),
    "refill_id": _pks(RefillRequest),
    "photo_id": _pks(EVisitPhoto),
    "note_id": _pks(ClinicalNote),
    "dispute_id": _pks(Dispute),
    "side": _fixed("front"),
    "campus_slug": _field(Campus, "slug"),
    "template_id": _pks(ScheduleTemplate),
    "statement_id": _pks(Statement),
    "offer_id": _pks(SlotOffer),
    "block_id": _pks(ScheduleBlock),
    "application_id": _pks(AssistanceApplication),
    "pharmacy_id": _pks(Pharmacy),
    "link_id": _pks(ShareLink),
    "grant_id": _pks(ProxyGrant),
    "code": _field(Observation, "code"),
    "condition_slug": _field(EVisitCondition, "slug"),
    "visit_type_id": _pks(VisitType),
    "visit_id": _pks(Encounter),
    "rule_id": _pks(ReleaseHoldRule),
    "participant_id": _pks(Participant),
    "observation_id": _pks(Observation),
    "notice_id": _pks(PatientNotice),
    "image_id": _pks(ImagingImage),
    "estimate_id": _pks(Estimate),
    "entry_id": _pks(WaitlistEntry),
    "document_id": _pks(Document),
    "card_id": _pks(SavedCard),
    "attachment_id": _pks(Attachment),
    "slot_id": _pks(Slot),
    "questionnaire_id": _pks(Questionnaire),
    "form_id": _pks(ConsentForm),
}


@dataclass(frozen=True)
class Route:
    name: str
    pattern: str
    kwargs: tuple[str, ...]


def all_routes() -> list[Route]:
    return list(_walk(get_resolver().url_patterns, "", None, ()))


def _walk(
    patterns: list[Any], prefix: str, namespace: str | None, kwargs: tuple[str, ...]
) -> Iterator[Route]:
    for entry in patterns:
        names = kwargs + tuple(entry.pattern.regex.groupindex)
        if isinstance(entry, URLResolver):
            inner = f"{namespace}:{entry.namespace}" if namespace and entry.namespace else namespace
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern), inner or entry.namespace, names)
        elif isinstance(entry, URLPattern):
            name = f"{namespace}:{entry.name}" if namespace and entry.name else entry.name or ""
            yield Route(name, prefix + str(entry.pattern), names)


def skip_reason(route: Route) -> str | None:
    if not route.name:
        return "unnamed: a redirect or catch-all, never linked to"
    if route.name in ADMIN_SAMPLE:
        return None
    if route.name in _admin_models():
        return ADMIN_UNSAMPLED
    namespace = route.name.partition(":")[0] if ":" in route.name else ""
    return SKIPPED_NAMESPACES.get(namespace) or SKIPPED.get(route.name)


# The rows ------------------------------------------------------------------------------------


def populate(world: World) -> dict[str, User | None]:
    """Every feature suite's rows in one database, and the personas who browse them."""
    builders: list[Callable[[], Any]] = [
        lambda: scheduling_pages.build(world),
        lambda: messaging_pages.build(messaging_world(world)),
        lambda: record_pages.full_record(world),
    ]
    clerk: list[User] = []

    def billing() -> None:
        office = billing_world(world)
        clerk.append(office.clerk)
        billing_pages.build(office)

    builders += [billing, lambda: telehealth_pages.build(world)]
    for round_number, build in enumerate(builders):
        _set_aside_names(world, round_number)
        build()
    return {
        "patient": world.alice_user,
        "proxy": world.proxy_user,
        "clinician": world.clinician,
        "scheduler": world.scheduler,
        "billing": clerk[0],
        "admin": world.admin,
        "anonymous": None,
    }


def _set_aside_names(world: World, round_number: int) -> None:
    # Each suite's builder makes its own departments, teams, visit types and staff with fixed
    # names; renaming the last builder's rows lets the next one make its own beside them.
    keep = {user.username for user in world.personas().values() if user is not None}
    keep.add(world.scheduler.username)
    tag = f"r{round_number}-"
    for model, name in ((Department, "slug"), (CareTeam, "slug"), (VisitType, "slug"), (User, "username")):
        rows = model._default_manager.exclude(**{f"{name}__in": keep}).exclude(
            **{f"{name}__regex": r"^r\d+-"}
        )
        for row in rows:
            setattr(row, name, tag + getattr(row, name))
            row.save(update_fields=[name])


# Which persona sees which page ---------------------------------------------------------------


@dataclass
class Discovery:
    pages: dict[str, list[str]] = field(default_factory=dict)  # persona -> paths
    routes: dict[str, list[str]] = field(default_factory=dict)  # route -> personas
    not_pages: dict[str, str] = field(default_factory=dict)  # route -> what it answered
    unfilled: list[str] = field(default_factory=list)  # routes nobody could open

    def count(self) -> int:
        return sum(len(paths) for paths in self.pages.values())


def signed_in_client(user: User | None) -> Client:
    client = Client()
    if user is not None:
        sign_in_recently(client, user)
    return client


def discover(clients: dict[str, Client], *, every_persona: bool) -> Discovery:
    """Which paths are pages, and for whom: the first persona (in `PERSONAS` order) who can open
    each route, or with `every_persona` each persona who can (about four times the pages)."""
    found = Discovery(pages={persona: [] for persona in clients})
    for route in all_routes():
        if skip_reason(route) is None:
            _discover_route(route, clients, found, every_persona)
    return found


def _discover_route(route: Route, clients: dict[str, Client], found: Discovery, every_persona: bool) -> None:
    missing = _unsourced(route)
    if missing:
        found.unfilled.append(f"{route.name} ({route.pattern}): no source for {', '.join(missing)}")
        return
    paths = _admin_paths(route) if route.name in ADMIN_SAMPLE else _paths(route)
    if not paths:
        found.unfilled.append(f"{route.name} ({route.pattern}): no row to open")
        return
    answers: list[str] = []
    for persona in _likely_first(route, list(clients)):
        for path in paths:
            verdict = _verdict(clients[persona], path)
            if verdict == "page":
                found.pages[persona].append(path)
                found.routes.setdefault(route.name, []).append(persona)
                if not every_persona:
                    return
                paths = [path, *[other for other in paths if other != path]]  # others likely see it too
                break
            if verdict == "POST only":
                found.not_pages[route.name] = verdict
                return
            answers.append(verdict)
            if verdict != "404":
                break  # a redirect or a refusal is about the persona, not the row: no use trying others
    if route.name in found.routes:
        return
    not_page = next((answer for answer in answers if answer.startswith("200")), None)
    if not_page:
        found.not_pages[route.name] = not_page
    else:
        seen = sorted(set(answers))[:4]
        found.unfilled.append(f"{route.name} ({route.pattern}): no persona opened it; answers {seen}")


def _unsourced(route: Route) -> list[str]:
    if route.name in ADMIN_SAMPLE:
        return []  # _admin_paths fills them
    return [name for name in route.kwargs if name not in KWARG_SOURCES]


def _likely_first(route: Route, personas: list[str]) -> list[str]:
    # Staff pages first to the staff, so the search spends its requests where they answer.
    if route.pattern.startswith("staff/"):
        return [*personas[2:], *personas[:2]]
    if route.name.startswith("admin:"):
        return sorted(personas, key=lambda persona: persona != "admin")
    return personas


def _paths(route: Route) -> list[str]:
    values = [KWARG_SOURCES[name]()[: CANDIDATES * 2] for name in route.kwargs]
    combos = itertools.islice(itertools.product(*values), CANDIDATES * 2)
    return [reverse(route.name, kwargs=dict(zip(route.kwargs, combo, strict=True))) for combo in combos]


@functools.cache
def _admin_models() -> dict[str, type[models.Model]]:
    """The model behind each of the admin's per-model routes, by route name."""
    return {
        f"admin:{pattern.name}": model
        for model, model_admin in admin.site._registry.items()
        for pattern in model_admin.get_urls()
        if isinstance(pattern, URLPattern) and pattern.name
    }


def _admin_paths(route: Route) -> list[str]:
    """A sampled admin page: ADMIN_APP's index, or a model's page for its first row."""
    if "app_label" in route.kwargs:
        return [reverse(route.name, kwargs={"app_label": ADMIN_APP})]
    if not route.kwargs:
        return [reverse(route.name)]
    row = _admin_models()[route.name]._default_manager.order_by("pk").first()
    if row is None:
        return []
    return [reverse(route.name, kwargs=dict.fromkeys(route.kwargs, row.pk))]  # object_id, or a user's id


def _verdict(client: Client, path: str) -> str:
    response = client.get(path)
    if response.status_code == 405:
        return "POST only"
    if response.status_code != 200:
        return str(response.status_code)
    kind = response.get("Content-Type", "")
    if response.streaming:
        return f"200 {kind.split(';')[0]} download"
    if not kind.startswith("text/html"):
        return f"200 {kind.split(';')[0]}"
    if b"<html" not in response.content[:500].lower():
        return "200 an htmx fragment"
    return "page"
