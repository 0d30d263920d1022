"""The patient API's benchmark: the FHIR searches an app makes for the heavy patient.

Each operation is measured as the pages are (`benchmarks.measure.measure`): server time
through the test client, the statements one request runs, its reads replayed, and a
raw-SQL floor fetching the rows the response carries. The app is a registered benchmark
app holding an access token bound to the heavy patient (`patient/*.rs`), minted here in
the benchmark database as the token endpoint would store it, without the OAuth dance.
"""

from __future__ import annotations

import datetime as dt
import functools
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection
from django.test import Client
from django.utils import timezone
from django.utils.http import urlencode
from oauth2_provider.models import AccessToken, Application, set_token_value

from benchmarks.history import HEAVY_USERNAME
from benchmarks.measure import Baseline, Page, Result, measure, trend_code
from portal.accounts.models import User
from portal.organization.models import Campus, Practitioner
from portal.patients.models import Patient
from portal.records.models import Allergy, Observation, ResultReport
from portal.scheduling.models import Appointment, VisitType
from portal.smart.models import PatientAuthorization, TokenBinding

BENCH_APP_NAME = "Portal benchmark"
BENCH_SCOPE = "launch/patient patient/*.rs"
# Longer than any run; a new token is minted for every run.
TOKEN_LIFETIME = dt.timedelta(days=1)
API = "/fhir/r4/"
OBSERVATION, REPORT = Observation._meta.db_table, ResultReport._meta.db_table
OBSERVATION_COLUMNS = (
    "o.id, o.patient_id, o.sensitivity, o.source_id, o.category, o.code, o.name, o.value_number, "
    "o.value_text, o.unit, o.range_low, o.range_high, o.range_text, o.interpretation, o.status, "
    "o.effective_at, o.note"
)
# Released values only: a lab value is in a report the patient may see; vitals stand alone.
RELEASED = "(o.report_id IS NULL OR r.available_at <= %s)"
Statements = list[tuple[str, list[Any]]]


@dataclass(frozen=True)
class Operation:
    """An API request to measure, where it is for a patient, and the raw SQL that fetches what it answers.

    `url` gets the app's client too, to follow a link an earlier response gave.
    """

    name: str
    url: Callable[[Patient, Client], str]
    baseline: Baseline


def _page_size() -> int:
    return int(settings.PORTAL_FHIR_PAGE_SIZE)


def _run(cursor: Any, statements: Statements) -> list[list[Any]]:
    results = []
    for sql, params in statements:
        cursor.execute(sql, params)
        results.append(cursor.fetchall())
    return results


def _search(resource: str, patient: Patient, **params: str) -> str:
    return f"{API}{resource}?{urlencode({'patient': f'patient-{patient.pk}', **params})}"


def _observations_sql(condition: str, limit: int, after: bool = False) -> str:
    """A search's page of the patient's released observations, newest first (one more than shown)."""
    # A row-value comparison: both databases walk the index from the key.
    keyset = " AND (o.effective_at, o.id) < (%s, %s)" if after else ""
    return (
        f"SELECT {OBSERVATION_COLUMNS} FROM {OBSERVATION} o LEFT JOIN {REPORT} r ON r.id = o.report_id "
        f"WHERE o.patient_id = %s AND {condition} AND {RELEASED}{keyset} "
        f"ORDER BY o.effective_at DESC, o.id DESC LIMIT {int(limit)}"
    )


# Observation?patient=X&category=laboratory: the first page of lab values.


def labs_url(patient: Patient, client: Client) -> str:
    return _search("Observation", patient, category="laboratory")


def labs_baseline(cursor: Any, patient: Patient, user: User) -> int:
    sql = _observations_sql("o.category = %s", _page_size() + 1)
    _run(cursor, [(sql, [patient.pk, "laboratory", timezone.now()])])
    return 1


# Observation?patient=X&code=<most frequent LOINC>&date=ge<a year ago>: one test's last year.


# Looked up once, by the patient: the baseline must not time the campus's zone along with its query.
@functools.cache
def _a_year_ago(patient_id: int) -> tuple[dt.date, dt.datetime]:
    """The day a year ago in the patient's zone, and its start: the API reads a date without
    a zone in the patient's, from that day's local midnight."""
    zone_name = (
        Patient.objects.filter(pk=patient_id).values_list("primary_campus__time_zone", flat=True).get()
    )
    zone = ZoneInfo(zone_name or settings.TIME_ZONE)
    day = timezone.localdate(timezone=zone) - dt.timedelta(days=365)
    return day, dt.datetime.combine(day, dt.time.min, tzinfo=zone).astimezone(dt.UTC)


def code_since_url(patient: Patient, client: Client) -> str:
    day, _start = _a_year_ago(patient.pk)
    return _search("Observation", patient, code=trend_code(patient), date=f"ge{day}")


def code_since_baseline(cursor: Any, patient: Patient, user: User) -> int:
    _day, since = _a_year_ago(patient.pk)
    sql = _observations_sql("o.code = %s AND o.effective_at >= %s", _page_size() + 1)
    _run(cursor, [(sql, [patient.pk, trend_code(patient), since, timezone.now()])])
    return 1


# Observation?patient=X&category=vital-signs&_sort=-date: vital signs, newest first.


def vitals_url(patient: Patient, client: Client) -> str:
    return _search("Observation", patient, category="vital-signs", _sort="-date")


def vitals_baseline(cursor: Any, patient: Patient, user: User) -> int:
    sql = _observations_sql("o.category = %s", _page_size() + 1)
    _run(cursor, [(sql, [patient.pk, "vital-signs", timezone.now()])])
    return 1


# The lab search's second page, through the `next` link of the first.


def labs_next_url(patient: Patient, client: Client) -> str:
    response = client.get(labs_url(patient, client))
    links = {link["relation"]: link["url"] for link in response.json().get("link", [])}
    if "next" not in links:
        raise RuntimeError("The lab search has a single page; there is no next page to measure.")
    address = urlsplit(links["next"])
    return f"{address.path}?{address.query}"


@functools.cache
def _labs_first_page_end(patient_id: int) -> tuple[Any, int]:
    """(effective_at, id) of the first page's last lab value, as the database gives them back:
    where the next page starts. Looked up once, so the baseline does not time it."""
    with connection.cursor() as cursor:
        cursor.execute(
            _observations_sql("o.category = %s", _page_size()), [patient_id, "laboratory", timezone.now()]
        )
        last = cursor.fetchall()[-1]
    return last[OBSERVATION_COLUMNS.split(", ").index("o.effective_at")], last[0]


def labs_next_baseline(cursor: Any, patient: Patient, user: User) -> int:
    last_at, last_id = _labs_first_page_end(patient.pk)
    sql = _observations_sql("o.category = %s", _page_size() + 1, after=True)
    _run(cursor, [(sql, [patient.pk, "laboratory", timezone.now(), last_at, last_id])])
    return 1


# Patient/X/$everything: the first page, the patient and then their resources type by type.


def everything_url(patient: Patient, client: Client) -> str:
    return f"{API}Patient/patient-{patient.pk}/$everything"


def everything_baseline(cursor: Any, patient: Patient, user: User) -> int:
    """The patient, then their allergies and their appointments (newest first, with the visit
    type, clinician and campus) until the page is full: the types that come first by name."""
    patient_table, allergy = Patient._meta.db_table, Allergy._meta.db_table
    appointment, visit_type = Appointment._meta.db_table, VisitType._meta.db_table
    practitioner, campus = Practitioner._meta.db_table, Campus._meta.db_table
    room = _page_size()
    statements: Statements = [
        (
            f"SELECT id, clinic_number, given_name, family_name, preferred_name, birth_date, sex_at_birth, "
            f"gender_identity, email, mobile_phone, home_phone, address_line, city, region, postal_code, "
            f"country, preferred_language FROM {patient_table} WHERE id = %s",
            [patient.pk],
        ),
        (
            f"SELECT id, substance, code, category, reaction, severity, status, sensitivity, source_id "
            f"FROM {allergy} WHERE patient_id = %s ORDER BY substance, id LIMIT %s",
            [patient.pk, room],
        ),
    ]
    found = _run(cursor, statements)
    room -= 1 + len(found[1])
    if room <= 0:
        return len(statements)
    sql = (
        f"SELECT a.id, a.status, a.cancel_reason, a.reason, a.starts_at, a.ends_at, v.name, "
        f"p.id, p.given_name, p.family_name, p.credentials, c.id, c.name FROM {appointment} a "
        f"JOIN {visit_type} v ON v.id = a.visit_type_id JOIN {practitioner} p ON p.id = a.practitioner_id "
        f"JOIN {campus} c ON c.id = a.campus_id WHERE a.patient_id = %s "
        "ORDER BY a.starts_at DESC, a.id DESC LIMIT %s"
    )
    _run(cursor, [(sql, [patient.pk, room + 1])])
    return len(statements) + 1


# DiagnosticReport?patient=X&category=LAB: lab reports, each with the references of its values.


def reports_url(patient: Patient, client: Client) -> str:
    return _search("DiagnosticReport", patient, category="LAB")


def reports_baseline(cursor: Any, patient: Patient, user: User) -> int:
    (reports,) = _run(
        cursor,
        [
            (
                "SELECT r.id, r.sensitivity, r.source_id, r.category, r.code, r.name, r.status, "
                "r.effective_at, r.issued_at, r.encounter_id, r.ordered_by_name, r.performer, r.conclusion "
                f"FROM {REPORT} r WHERE r.patient_id = %s AND r.category = %s AND r.available_at <= %s "
                f"ORDER BY r.effective_at DESC, r.id DESC LIMIT {_page_size() + 1}",
                [patient.pk, ResultReport.Category.LAB, timezone.now()],
            )
        ],
    )
    ids = [row[0] for row in reports[: _page_size()]]
    values = (
        f"SELECT report_id, id FROM {OBSERVATION} WHERE report_id IN ({', '.join(['%s'] * len(ids))}) "
        "ORDER BY report_id, position, id"
    )
    _run(cursor, [(values, ids)])
    return 2


OPERATIONS = [
    Operation("API lab values", labs_url, labs_baseline),
    Operation("API one test, last year", code_since_url, code_since_baseline),
    Operation("API vital signs by date", vitals_url, vitals_baseline),
    Operation("API lab values, next page", labs_next_url, labs_next_baseline),
    Operation("API $everything", everything_url, everything_baseline),
    Operation("API lab reports", reports_url, reports_baseline),
]


def bench_token(user: User, patient: Patient) -> str:
    """A live access token of the benchmark app, bound to `user`'s authorization for `patient`.

    The app and its authorization are made once and kept; each run gets a new token,
    stored as the toolkit stores one (its checksum only).
    """
    app, _made = Application.objects.get_or_create(
        name=BENCH_APP_NAME,
        defaults={
            "client_type": Application.CLIENT_PUBLIC,
            "authorization_grant_type": Application.GRANT_AUTHORIZATION_CODE,
            "redirect_uris": "http://127.0.0.1:9999/callback",
            "algorithm": Application.RS256_ALGORITHM,
        },
    )
    authorization = PatientAuthorization.objects.filter(
        application=app, user=user, patient=patient, revoked_at=None
    ).first() or PatientAuthorization.objects.create(
        application=app, user=user, patient=patient, scopes=BENCH_SCOPE
    )
    value = secrets.token_urlsafe(32)
    token = AccessToken(
        user=user, application=app, expires=timezone.now() + TOKEN_LIFETIME, scope=BENCH_SCOPE
    )
    set_token_value(token, value)
    token.save()
    TokenBinding.objects.create(access_token=token, authorization=authorization)
    return value


def _same_path(path: str, patient: Patient) -> str:
    return path


def _require_entries(client: Client, path: str) -> None:
    """An empty Bundle would time nothing worth knowing: the data must be there."""
    response = client.get(path)
    entries = response.json().get("entry", []) if response.status_code == 200 else []
    if not any(entry.get("search", {}).get("mode") == "match" for entry in entries):
        raise RuntimeError(f"GET {path} answered {response.status_code} with no match; nothing to measure.")


def measure_api(requests: int, warmup: int, username: str = HEAVY_USERNAME) -> list[Result]:
    """Time each operation as the benchmark app reading `username`'s own record."""
    user = User.objects.get(username=username)
    patient = Patient.objects.get(account=user)
    # A new run may be on a new database.
    _labs_first_page_end.cache_clear()
    _a_year_ago.cache_clear()
    client = Client(headers={"Authorization": f"Bearer {bench_token(user, patient)}"})
    results = []
    for operation in OPERATIONS:
        path = operation.url(patient, client)
        _require_entries(client, path)
        page = Page(operation.name, functools.partial(_same_path, path), operation.baseline)
        results.append(measure(page, client, user, patient, requests, warmup))
    return results
