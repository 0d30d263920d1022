"""Hostile values in every form: each form class directly, and every POST the site's pages offer.

Two layers, because each misses what the other sees: the form classes alone are cheap,
so they get the whole corpus in every field; the HTTP sweep signs in the persona a page
is for, finds the forms on every page it can open, and posts hostile values through the
real view (where a value that passes the form can still break the action behind it).
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
from allauth.core import context as allauth_context
from django import forms
from django.conf import settings as django_settings
from django.http import QueryDict
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RoutePattern
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import portal
from portal.accounts.models import User
from portal.patients.tests.support import sign_in_recently
from portal.records.tests.support import make_note, make_panel
from portal.security_tests.form_builders import construct, form_arguments
from portal.security_tests.hostile import (
    CORE,
    CORPUS,
    Hostile,
    Tally,
    changed,
    fingerprint,
    hostile_values,
    post_form,
    post_json,
    rotation,
    savepoint,
    send,
)
from portal.test import World

SETTINGS = settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def bob_unchanged(world: World) -> Iterator[World]:
    make_panel(world.alice)
    make_note(world.alice)
    make_panel(world.bob)
    before = fingerprint(world.bob, world.bob_user)
    yield world
    assert changed(before, fingerprint(world.bob, world.bob_user)) == []


# --- Layer 1: the form classes ----------------------------------------------------------------


def form_classes() -> list[type[forms.BaseForm]]:
    """Every form class the portal defines, wherever it lives (views, helpers, admin modules).

    Importing every portal module first means a form declared beside its view counts as
    much as one in a forms module. Classes made inside functions (factories) are left to the
    page layer below, which posts to them through their views.
    """
    importlib.import_module(django_settings.ROOT_URLCONF)  # first: it registers the path converters
    for module in pkgutil.walk_packages(portal.__path__, "portal."):
        if not SKIPPED_MODULES.search(module.name):
            importlib.import_module(module.name)
    found: dict[str, type[forms.BaseForm]] = {}
    waiting: list[type[forms.BaseForm]] = [forms.BaseForm]
    while waiting:
        for subclass in waiting.pop().__subclasses__():
            waiting.append(subclass)
            name = dotted(subclass)
            if name.startswith("portal.") and "<locals>" not in name and not SKIPPED_MODULES.search(name):
                found[name] = subclass
    return [found[name] for name in sorted(found)]


# Modules the sweep does not import, and whose classes it leaves out: tests (their forms are
# fixtures; a browser-test conftest changes process settings), migrations, and the entry
# points that configure or start something when imported. (walk_packages itself still
# imports each package's __init__ to look inside it.)
SKIPPED_MODULES = re.compile(
    r"(^|\.)(tests?|\w+_tests|conftest|test_\w+|migrations)(\.|$)|^portal\.(__main__|wsgi|asgi|settings)"
)


def querydict(pairs: list[tuple[str, Hostile]]) -> QueryDict:
    data = QueryDict(mutable=True)
    for name, value in pairs:
        data.appendlist(name, value.as_str())
    return data


def dotted(form_class: type[forms.BaseForm]) -> str:
    return f"{form_class.__module__}.{form_class.__qualname__}"


def validate(
    form_class: type[forms.BaseForm],
    pairs: list[tuple[str, Hostile]],
    arguments: dict[str, Any],
    tally: Tally,
) -> None:
    tally.requests += 1
    tally.inputs += len(pairs)
    where = f"{dotted(form_class)} {[(n, v.label) for n, v in pairs][:4]}"
    try:
        # allauth's forms read the request (the passkey ceremony's state) from its context.
        with savepoint(), allauth_context.request_context(arguments["request"]):
            form = construct(form_class, querydict(pairs), arguments)
            assert form is not None  # its arguments do not depend on the data
            form.is_valid()
            str(form.errors)  # rendering the errors must not fail either
    except Exception as error:  # any exception is the bug being looked for
        tally.problems.append(f"{where}: raised {type(error).__name__}: {str(error)[:200]}")


# Form classes (dotted paths) the sweep cannot build outside their view, each with the reason; every other
# form class must be built (a new form whose constructor wants something new fails the test
# until form_builders.form_arguments provides it, or it is listed here with a reason).
NOT_BUILT_HERE: dict[str, str] = {}


def probe(form_class: type[forms.BaseForm], arguments: dict[str, Any], tally: Tally) -> list[str] | None:
    """The form's field names, built without data; None if its constructor wants an unknown argument."""
    try:
        with allauth_context.request_context(arguments["request"]):
            form = construct(form_class, QueryDict(), arguments)
    except Exception as error:  # a constructor that fails on its own arguments is a finding too
        tally.problems.append(f"{dotted(form_class)}: building it raised {type(error).__name__}: {error}")
        return None
    return None if form is None else list(form.fields)


def test_every_form_class_survives_the_corpus_in_every_field(bob_unchanged: World) -> None:
    world = bob_unchanged
    arguments = form_arguments(world)
    tally = Tally("Form classes")
    classes = form_classes()
    fields: dict[type[forms.BaseForm], list[str]] = {}
    unbuilt = []
    for form_class in classes:
        names = probe(form_class, arguments, tally)
        if names is None:
            unbuilt.append(dotted(form_class))
            continue
        fields[form_class] = names
        tally.targets.add(dotted(form_class))
        # Every value of the corpus reaches every form; the core values reach every field.
        for round_ in range(len(CORE)):
            validate(form_class, rotation(names, CORE, round_), arguments, tally)
        for round_ in range(0, len(CORPUS), max(1, len(names))):
            validate(form_class, rotation(names, CORPUS, round_), arguments, tally)
        # Lists where one value is expected, and nothing at all.
        validate(form_class, [(name, value) for name in names for value in CORE[:3]], arguments, tally)
        validate(form_class, [], arguments, tally)

    @SETTINGS
    @given(data=st.data())
    def mixed(data: st.DataObject) -> None:
        form_class = data.draw(st.sampled_from(list(fields)))
        names = data.draw(st.lists(st.sampled_from(fields[form_class] or ["x"]), max_size=8))
        validate(form_class, [(name, data.draw(hostile_values())) for name in names], arguments, tally)

    mixed()
    print(
        f"form classes found {len(classes)}, constructed {len(fields)}, "
        f"fields {sum(len(names) for names in fields.values())}, not built {sorted(unbuilt)}"
    )
    tally.assert_clean()
    unlisted = sorted(set(unbuilt) - set(NOT_BUILT_HERE))
    assert not unlisted, (
        f"form classes the sweep cannot build (teach form_builders.form_arguments): {unlisted}"
    )
    stale = sorted(set(NOT_BUILT_HERE) - set(unbuilt))
    assert not stale, f"listed in NOT_BUILT_HERE but built now (or gone): {stale}"


# --- Layer 2: every page's forms through the views --------------------------------------------


@dataclass(frozen=True)
class PostForm:
    """A form a page offers: where it posts, which persona saw it, and its field names."""

    action: str
    persona: str
    names: tuple[str, ...]


class FormFinder(HTMLParser):
    """The POST forms on a page and the names of their fields."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, list[str]]] = []
        self._current: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "form":
            if (attributes.get("method") or "get").lower() == "post":
                self._current = []
                self.forms.append((attributes.get("action") or "", self._current))
            else:
                self._current = None
        elif tag in ("input", "select", "textarea", "button") and self._current is not None:
            name = attributes.get("name")
            if name and name != "csrfmiddlewaretoken" and name not in self._current:
                self._current.append(name)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None


# Who opens a page: the persona it is for; the next ones are tried when the first gets nothing.
PERSONAS_BY_PREFIX = (
    ("staff/desk", ("scheduler", "admin")),
    ("staff/schedules", ("scheduler", "admin")),
    ("staff/", ("clinician", "admin")),
    ("proxies/staff", ("clinician", "admin")),
    ("profile/staff", ("admin", "clinician")),
    ("register/", ("anonymous",)),
    ("accounts/username", ("anonymous",)),
    ("accounts/password/reset", ("anonymous",)),
    ("accounts/", ("patient",)),
    ("developers/", ("patient",)),
    ("", ("patient", "proxy")),
)
# Covered by test_hostile_api.py, or not the portal's own (Django's admin), or signing out.
SKIPPED_PREFIXES = (
    "admin/",
    "fhir/",
    "oauth/",
    "accounts/logout",
    "i18n/",
    "healthz",
    "readyz",
    "metrics",
    "demo/",
)


def routes() -> list[str]:
    """Every URL pattern as a path template, its converters' names kept (`<int:patient_id>`)."""
    found: list[str] = []

    def walk(resolver: URLResolver, prefix: str) -> None:
        for pattern in resolver.url_patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern) and isinstance(pattern.pattern, RoutePattern):
                found.append(prefix + str(pattern.pattern))

    walk(get_resolver(), "")
    return [route for route in dict.fromkeys(found) if not route.startswith(SKIPPED_PREFIXES)]


def fill(route: str, world: World) -> str:
    """A path for the route: the world's own rows where it has them, a missing id otherwise."""
    values = {
        "patient_id": str(world.alice.pk),
        "practitioner_id": str(world.clinician.practitioner.pk),
        "campus_slug": world.campus.slug,
    }
    path = route
    while "<" in path:
        start, end = path.index("<"), path.index(">")
        name = path[start + 1 : end].split(":")[-1]
        path = path[:start] + values.get(name, "1") + path[end + 1 :]
    return "/" + path


def personas_for(route: str) -> tuple[str, ...]:
    return next(personas for prefix, personas in PERSONAS_BY_PREFIX if route.startswith(prefix))


def client_as(world: World, persona: str) -> Client:
    client = Client()
    users = {"scheduler": world.scheduler, **world.personas()}
    user = users[persona]
    if user is not None:
        sign_in_recently(client, user)
    return client


def discover(world: World, tally: Tally) -> tuple[list[PostForm], list[tuple[str, str]]]:
    """The POST forms on every page a persona can open, and the routes no page offered a form for."""
    found: dict[str, PostForm] = {}
    bare: list[tuple[str, str]] = []
    clients = {
        name: client_as(world, name)
        for name in ("patient", "proxy", "clinician", "scheduler", "admin", "anonymous")
    }
    for route in routes():
        path = fill(route, world)
        offered = False
        for persona in personas_for(route):
            response = send(clients[persona], tally, "get", path, f"GET {path} as {persona}")
            if (
                response is None
                or response.status_code != 200
                or "html" not in response.get("Content-Type", "")
            ):
                continue
            finder = FormFinder()
            finder.feed(response.content.decode("utf-8", "replace"))
            for action, names in finder.forms:
                target = urlsplit(urljoin(path, action or path)).path
                if target.lstrip("/").startswith(SKIPPED_PREFIXES):
                    continue
                key = f"{target} {sorted(names)}"
                found.setdefault(key, PostForm(target, persona, tuple(names)))
                offered = offered or target == path
            break
        if not offered:
            bare.append((path, personas_for(route)[0]))
    return list(found.values()), bare


GENERIC_NAMES = ("body", "subject", "reason", "amount", "date", "note", "email", "q", "id", "next")


@pytest.mark.long
def test_every_page_form_and_post_route_survives_hostile_posts(bob_unchanged: World) -> None:
    world = bob_unchanged
    tally = Tally("Page forms over HTTP")
    page_forms, bare = discover(world, tally)
    clients: dict[str, Client] = {}

    def client(persona: str) -> Client:
        # A fresh sign-in per form: a hostile post may end the session (a password change).
        clients[persona] = client_as(world, persona)
        return clients[persona]

    for form in page_forms:
        tally.targets.add(form.action)
        names = list(form.names) or ["x"]
        signed_in = client(form.persona)
        # Enough rounds that every core value reaches the form, each round a different value per field.
        rounds = max(1, -(-len(CORE) // len(names)))
        for round_ in range(min(rounds, 2)):
            pairs = rotation(names, CORE, round_ * len(names))
            post_form(
                signed_in,
                tally,
                form.action,
                pairs,
                f"POST {form.action} as {form.persona} {[v.label for _, v in pairs][:6]}",
            )
        doubled = [(name, value) for name in names for value in (CORE[0], CORE[1])]
        post_form(signed_in, tally, form.action, doubled, f"POST {form.action} lists")
        post_json(signed_in, tally, form.action, names, f"POST {form.action} JSON")
    # The POST-only routes no page offered (their objects do not exist here): still no 5xx.
    for index, (path, persona) in enumerate(bare):
        tally.targets.add(path)
        pairs = rotation(GENERIC_NAMES, CORE, index)
        post_form(
            clients.get(persona) or client(persona), tally, path, pairs, f"POST {path} as {persona} (bare)"
        )

    @SETTINGS
    @given(data=st.data())
    def mixed(data: st.DataObject) -> None:
        form = data.draw(st.sampled_from(page_forms))
        names = data.draw(st.lists(st.sampled_from(list(form.names) or ["x"]), min_size=1, max_size=6))
        pairs = [(name, data.draw(hostile_values())) for name in names]
        post_form(
            clients.get(form.persona) or client(form.persona),
            tally,
            form.action,
            pairs,
            f"POST {form.action} mixed {[v.label for _, v in pairs]}",
        )

    mixed()
    print(f"pages' forms {len(page_forms)}, POST-only routes {len(bare)}")
    tally.assert_clean()
    assert len(page_forms) >= 30, "the sweep found too few forms to mean anything"


def test_the_personas_still_sign_in_and_a_valid_form_still_works(bob_unchanged: World) -> None:
    """Guard against a sweep that proves nothing: the sign-in the sweep relies on reaches real pages."""
    client = client_as(bob_unchanged, "patient")
    assert client.get("/profile/").status_code == 200
    staff = client_as(bob_unchanged, "clinician")
    assert staff.get(f"/staff/patients/{bob_unchanged.alice.pk}/").status_code == 200
    assert isinstance(bob_unchanged.alice_user, User)
