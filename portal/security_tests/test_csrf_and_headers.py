"""CSRF on every route, no state change on GET, and the security headers on every page.

Three sweeps over the whole URL configuration (walked from `get_resolver()`, so a new
route is covered the day it is added):

- every route, sent POST, PUT, PATCH and DELETE by a signed-in user without a CSRF
  token, answers the CSRF failure page (403) and changes nothing, unless it is one of
  the documented exemptions below (each with its reason);
- every route, fetched with GET, writes to no table but the bookkeeping ones listed in
  GET_MAY_WRITE;
- signed in as the patient, a proxy, a clinician and an administrator of the demo
  organisation, a breadth-first crawl of every same-origin link from the home page
  checks each response's security headers and that nothing showing health data may be
  cached (`Cache-Control: no-store`, set by portal.core.middleware.no_store_middleware).

"Nothing changed" is checked two ways: the row count of every model's table (one query)
and every INSERT, UPDATE or DELETE the request sends (a connection execute wrapper),
which also catches an UPDATE that a row count cannot see.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urldefrag, urljoin, urlsplit

import pytest
from django.apps import apps
from django.db import connection
from django.test import Client
from django.urls import Resolver404, URLPattern, URLResolver, get_resolver, resolve
from django.urls.resolvers import RegexPattern
from django.utils import timezone

from portal.accounts.models import User
from portal.lib.seeding.demo_appointments import seed_demo_appointments
from portal.lib.seeding.demo_billing import seed_demo_billing
from portal.lib.seeding.demo_messages import seed_demo_messages
from portal.lib.seeding.demo_telehealth import seed_demo_telehealth
from portal.lib.seeding.demo_users import create_demo_users
from portal.lib.seeding.organization import seed_organization
from portal.lib.seeding.schedules import seed_schedules
from portal.test import World

# Run in the SQLite phase only: CSRF, headers and which tables a GET writes do not depend on the engine.
pytestmark = pytest.mark.any_database

# Routes that skip Django's CSRF check, and why each is safe. A route is CSRF-exposed
# only if a browser's ambient credential (the session cookie) authorizes it; these take
# their authority from a bearer token, client credentials or a capability in the URL,
# which a cross-site form cannot send.
CSRF_EXEMPT: dict[str, str] = {
    "csp-report/": "browsers send CSP violation reports without cookies or tokens; it only logs and counts",
    "notifications/unsubscribe/<str:token>/": (
        "RFC 8058 one-click unsubscribe from a mail program: the signed token in the URL is the proof"
    ),
    "interfaces/import": "inbound records interface: a bearer interface token, no session",
    "oauth/token/": "OAuth token endpoint: client authentication and a one-time code or assertion",
    "oauth/revoke/": "OAuth token revocation: client authentication, RFC 7009",
    "oauth/introspect/": "OAuth token introspection: client credentials, RFC 7662",
    "fhir/r4/metadata": "FHIR API: bearer access tokens only (SMART), never the session",
    "fhir/r4/$export": "FHIR bulk data: a backend service's bearer token",
    "fhir/r4/Patient/$export": "FHIR bulk data: a backend service's bearer token",
    "fhir/r4/Group/<str:group_id>/$export": "FHIR bulk data: a backend service's bearer token",
    "fhir/r4/Group/<str:group_id>": "FHIR bulk data: a backend service's bearer token",
    "fhir/r4/Group": "FHIR bulk data: a backend service's bearer token",
    "fhir/r4/bulk/status/<int:job_id>": "FHIR bulk data: a backend service's bearer token",
    "fhir/r4/bulk/files/<int:file_id>": "FHIR bulk data: a backend service's bearer token",
    "fhir/r4/Patient/<str:resource_id>/$everything": "FHIR API: bearer access tokens only (SMART)",
    "fhir/r4/<str:type_name>/_search": "FHIR API: bearer access tokens only (SMART)",
    "fhir/r4/<str:type_name>/<str:resource_id>": "FHIR API: bearer access tokens only (SMART)",
    "fhir/r4/<str:type_name>": "FHIR API: bearer access tokens only (SMART)",
    "fhir/r4/(?P<rest>.*)$": "FHIR API: the OperationOutcome 404 for any other path under the base",
}

# Tables a request may write whatever its method: the session (activity stamps, CSRF
# secret), allauth's list of the user's sessions (last seen), and the audit trail (every
# read of health data, and every refused attempt, is an audit event; the chain head
# moves with it).
BOOKKEEPING = frozenset(
    {"django_session", "usersessions_usersession", "audit_auditevent", "audit_auditchainhead"}
)
# What else a GET may write, each for a reason. Rate limits and replay guards live in the
# cache (locmem in tests, never a model table); the sign-in throttle is a table.
# Read receipts and lazily created containers are state a GET may change on purpose; a
# cross-site GET can at most mark something read or create an empty row.
GET_MAY_WRITE = BOOKKEEPING | {
    "accounts_signinthrottle",  # rate limit: counts attempts against an address or account
    "account_emailaddress",  # allauth records the account's address the first time its page shows it
    "messaging_message",  # opening a conversation marks the care team's messages read
    "records_resultseen",  # opening a result records that the patient has seen it
}

CSRF_FAILURE_TITLE = "Your form expired"
UNSAFE_METHODS = ("post", "put", "patch", "delete")
# A sample value for each path converter and named regex group, so every route resolves.
SAMPLE_BY_CONVERTER = {"int": "1", "row_id": "1", "str": "x", "slug": "x", "path": "x", "test_code": "x"}
SAMPLE_BY_GROUP = {"app_label": "auth", "uidb36": "1", "key": "x", "url": "x", "rest": "x/y/z/w"}
STAFF_PREFIXES = ("staff/", "admin/")

# The security headers every response the portal renders must carry.
REQUIRED_HEADERS: dict[str, Callable[[str], bool]] = {
    # Downloads (attachments, photos) carry a stricter `sandbox; default-src 'none'`.
    "Content-Security-Policy": lambda value: "default-src 'self'" in value or "default-src 'none'" in value,
    "X-Content-Type-Options": lambda value: value == "nosniff",
    "Referrer-Policy": lambda value: value in ("same-origin", "no-referrer", "strict-origin"),
    "Cross-Origin-Opener-Policy": lambda value: value == "same-origin",
}
CRAWL_LIMIT = 400
# Links the crawl does not follow: signing out ends the session it crawls with, and the
# language switch is a POST form, not a link.
NOT_FOLLOWED = re.compile(r"^/(accounts/logout/|i18n/|static/|media/)")


@dataclass(frozen=True)
class Route:
    """One URL pattern, with a concrete path that resolves to it."""

    pattern: str
    path: str
    name: str
    csrf_exempt: bool

    @property
    def staff(self) -> bool:
        return self.pattern.startswith(STAFF_PREFIXES)


def _part(pattern: Any) -> tuple[str, str]:
    """One level of a route as Django names it (no leading ^) and a sample path for it."""
    text = str(pattern).removeprefix("^")
    if isinstance(pattern, RegexPattern):
        # Regex groups first: their `(?P<name>` would look like a converter below.
        return text, _fill_regex_groups(text).removesuffix("$")
    return text, re.sub(r"<(?:(\w+):)?\w+>", lambda m: SAMPLE_BY_CONVERTER[str(m.group(1) or "str")], text)


def _walk(resolver: URLResolver, route: str = "", path: str = "/") -> Iterator[tuple[str, str, URLPattern]]:
    for entry in resolver.url_patterns:
        text, sample = _part(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _walk(entry, route + text, path + sample)
        else:
            yield route + text, path + sample, entry


def _fill_regex_groups(pattern: str) -> str:
    """Replace each `(?P<name>...)` group, however nested, by its sample value."""
    out, position = [], 0
    for found in re.finditer(r"\(\?P<(\w+)>", pattern):
        if found.start() < position:
            continue
        depth, end = 1, found.end()
        while depth:
            depth += {"(": 1, ")": -1}.get(pattern[end], 0)
            end += 1
        out += [pattern[position : found.start()], SAMPLE_BY_GROUP[found.group(1)]]
        position = end
    return "".join(out) + pattern[position:]


def all_routes() -> list[Route]:
    return [
        Route(
            pattern=route,
            path=path,
            name=entry.name or "",
            csrf_exempt=bool(getattr(entry.callback, "csrf_exempt", False)),
        )
        for route, path, entry in _walk(get_resolver())
    ]


ROUTES = all_routes()


def table_names() -> list[str]:
    return sorted({model._meta.db_table for model in apps.get_models(include_auto_created=True)})


def row_counts() -> dict[str, int]:
    """Every model table's row count, in one query."""
    tables = table_names()
    quote = connection.ops.quote_name
    columns = ", ".join(f"(SELECT COUNT(*) FROM {quote(table)})" for table in tables)  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {columns}")
        return dict(zip(tables, cursor.fetchone(), strict=True))


WRITE = re.compile(r'^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)"?', re.IGNORECASE)


@contextmanager
def writes_recorded() -> Iterator[list[str]]:
    """The table of every INSERT, UPDATE and DELETE run inside the block."""
    tables: list[str] = []

    def record(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        found = WRITE.match(sql)
        if found:
            tables.append(found.group(1))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        yield tables


def signed_in(user: User | None) -> Client:
    client = Client(enforce_csrf_checks=True)
    if user is not None:
        client.force_login(user)
    return client


def clients_for(world: World) -> dict[bool, Client]:
    """Staff routes as the administrator, every other route as the patient."""
    return {True: signed_in(world.admin), False: signed_in(world.alice_user)}


def test_the_route_walk_reaches_every_route() -> None:
    mismatched = [route.pattern for route in ROUTES if resolve(route.path).route != route.pattern]
    assert not mismatched, f"sample paths resolve to another route: {mismatched}"
    assert len(ROUTES) > 400
    print(f"\n{len(ROUTES)} routes enumerated")


def test_every_csrf_exemption_is_documented() -> None:
    exempt = {route.pattern for route in ROUTES if route.csrf_exempt}
    assert exempt - CSRF_EXEMPT.keys() == set(), "a route skips CSRF without a documented reason"
    assert CSRF_EXEMPT.keys() - exempt == set(), "a documented exemption no longer exists"


def _refused_without_token(client: Client, method: str, route: Route) -> list[str]:
    """Problems with one unsafe request that carried no CSRF token (empty when refused cleanly)."""
    with writes_recorded() as written:
        response = getattr(client, method)(route.path)
    problems = []
    if response.status_code != 403 or CSRF_FAILURE_TITLE not in response.content.decode():
        problems.append(f"{method.upper()} {route.path} answered {response.status_code}, not the CSRF 403")
    if unexpected := set(written) - BOOKKEEPING:
        problems.append(f"{method.upper()} {route.path} wrote to {sorted(unexpected)}")
    return problems


def changed_tables(before: Mapping[str, int], ignored: frozenset[str]) -> set[str]:
    return {table for table, count in row_counts().items() if before[table] != count} - ignored


@pytest.mark.parametrize("part", [0, 1])
def test_an_unsafe_request_without_a_csrf_token_is_refused_and_changes_nothing(
    world: World, part: int
) -> None:
    """Every route gets a POST and one of PUT, PATCH and DELETE in turn.

    CsrfViewMiddleware treats every method outside GET, HEAD, OPTIONS and TRACE alike, so
    rotating the other three over the routes tests each of them on a third of the routes
    without tripling the run; the two halves run on separate xdist workers.
    """
    clients = clients_for(world)
    checked = [route for route in ROUTES if not route.csrf_exempt][part::2]
    before = row_counts()
    problems = []
    for index, route in enumerate(checked):
        for method in ("post", UNSAFE_METHODS[1 + index % 3]):
            problems += _refused_without_token(clients[route.staff], method, route)
    problems += [f"row count changed: {table}" for table in changed_tables(before, BOOKKEEPING)]
    assert not problems, "\n".join(problems)
    print(f"\nCSRF: {len(checked)} routes refused POST and one of PUT/PATCH/DELETE without a token")


def test_an_exempt_route_gives_a_signed_in_browser_nothing(world: World) -> None:
    """The exempt routes ignore the session cookie, so a cross-site POST riding it does nothing."""
    client = signed_in(world.alice_user)
    problems = []
    before = row_counts()
    for route in (route for route in ROUTES if route.csrf_exempt):
        with writes_recorded() as written:
            response = client.post(route.path, data=b"{}", content_type="application/json")
        changed = set(written) - BOOKKEEPING
        accepted = response.status_code < 400 and route.pattern != "csp-report/"
        if changed or accepted:
            problems.append(f"POST {route.path}: {response.status_code}, changed {sorted(changed)}")
    problems += [f"row count changed: {table}" for table in changed_tables(before, BOOKKEEPING)]
    assert not problems, "\n".join(problems)


def _get_problems(client: Client, route: Route) -> list[str]:
    with writes_recorded() as written:
        response = client.get(route.path)
    problems = []
    if response.status_code >= 500:
        problems.append(f"GET {route.path} answered {response.status_code}")
    if unexpected := set(written) - GET_MAY_WRITE:
        problems.append(f"GET {route.path} wrote to {sorted(unexpected)}")
    return problems


@pytest.mark.parametrize("part", [0, 1])
def test_a_get_to_any_route_changes_nothing(world: World, part: int) -> None:
    clients = clients_for(world)
    before = row_counts()
    checked = ROUTES[part::2]
    problems = [p for route in checked for p in _get_problems(clients[route.staff], route)]
    problems += [f"row count changed: {table}" for table in changed_tables(before, GET_MAY_WRITE)]
    assert not problems, "\n".join(problems)
    print(f"\nGET: {len(checked)} routes wrote nothing but {sorted(GET_MAY_WRITE)}")


# The crawl: the demo organisation's people, each from their own home page.
CRAWL_PERSONAS = {
    "patient": ("demo-patient", ["/"]),
    "proxy": ("demo-parent", ["/"]),
    "clinician": ("demo-clinician", ["/staff/"]),
    "admin": ("demo-admin", ["/staff/", "/admin/"]),
}
# Pages a shared cache may keep: public, the same for everyone, and free of health data.
CACHEABLE = frozenset({"manifest.webmanifest", "service-worker.js", "offline/", ".well-known/jwks.json"})
# Everything under these shows health data (or who a patient is); none may be cached.
HEALTH_DATA_PREFIXES = (
    "record/", "record-access/", "shared/", "messages/", "referrals/", "appointments/", "billing/",
    "e-visits/", "video/", "health-cards/", "profile/", "proxies/", "notifications/", "staff/", "fhir/",
)  # fmt: skip
# A route's pages followed at most this often, so paging through one list cannot use up the crawl.
PER_ROUTE = 1


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self.hrefs.append(href)


def same_origin_links(page: str, body: str) -> list[str]:
    parser = Links()
    parser.feed(body)
    found = []
    for href in parser.hrefs:
        absolute = urlsplit(urljoin("http://testserver" + page, urldefrag(href)[0]))
        if (
            absolute.scheme == "http"
            and absolute.netloc == "testserver"
            and not NOT_FOLLOWED.match(absolute.path)
        ):
            found.append(absolute.path + (f"?{absolute.query}" if absolute.query else ""))
    return found


def header_problems(path: str, route: str, response: Any) -> list[str]:
    problems = [
        f"{path}: {name} is {response.get(name)!r}"
        for name, acceptable in REQUIRED_HEADERS.items()
        if not acceptable(response.get(name, ""))
    ]
    framing = response.get("X-Frame-Options") == "DENY" or "frame-ancestors 'none'" in response.get(
        "Content-Security-Policy", ""
    )
    if not framing:
        problems.append(f"{path}: may be framed (no X-Frame-Options DENY or frame-ancestors 'none')")
    if route not in CACHEABLE and "no-store" not in response.get("Cache-Control", ""):
        problems.append(f"{path}: Cache-Control is {response.get('Cache-Control')!r}, not no-store")
    return problems


@dataclass
class Crawl:
    pages: int = 0
    health_pages: int = 0
    problems: list[str] = field(default_factory=list)


def crawl(client: Client, starts: Sequence[str]) -> Crawl:
    """Breadth-first over same-origin links, checking every response on the way."""
    queue, seen, per_route = deque(starts), set(starts), dict[str, int]()
    result = Crawl()
    while queue and result.pages < CRAWL_LIMIT:
        path = queue.popleft()
        try:
            route = resolve(urlsplit(path).path).route
        except Resolver404:
            result.problems.append(f"{path}: links to no route")
            continue
        if per_route.setdefault(route, 0) >= PER_ROUTE:
            continue
        per_route[route] += 1
        with writes_recorded() as written:
            response = client.get(path)
        result.pages += 1
        result.health_pages += route.startswith(HEALTH_DATA_PREFIXES) or route == ""
        if response.status_code >= 500:
            result.problems.append(f"{path}: {response.status_code}")
        if unexpected := set(written) - GET_MAY_WRITE:
            result.problems.append(f"GET {path} wrote to {sorted(unexpected)}")
        result.problems += header_problems(path, route, response)
        if response.status_code == 200 and "text/html" in response.get("Content-Type", ""):
            for link in same_origin_links(path, response.content.decode()):
                if link not in seen:
                    seen.add(link)
                    queue.append(link)
    return result


def seed_demo() -> None:
    """The demo organisation with its sign-ins, appointments, messages, bills and visits."""
    campuses = seed_organization()
    create_demo_users()
    now = timezone.now()
    seed_schedules(campuses, min(now.astimezone(campus.zone).date() for campus in campuses.values()))
    seed_demo_appointments(now)
    seed_demo_messages()
    seed_demo_billing()
    seed_demo_telehealth()


@pytest.mark.long
def test_every_page_each_persona_reaches_has_the_security_headers(db: None) -> None:
    """One seeded demo organisation, crawled as each persona in turn (seeding is the slow part)."""
    seed_demo()
    problems = []
    for persona, (username, starts) in CRAWL_PERSONAS.items():
        result = crawl(signed_in(User.objects.get(username=username)), starts)
        problems += [f"as {persona}: {problem}" for problem in result.problems]
        if result.pages < 20:
            problems.append(f"the crawl as {persona} reached only {result.pages} pages")
        print(f"\ncrawl as {persona}: {result.pages} pages, {result.health_pages} showing health data")
    assert not problems, "\n".join(problems)
