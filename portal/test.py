"""Shared test personas and helpers.

Every feature's tests try it as each persona: the patient, a proxy, another patient,
a clinician who cares for the patient, unassigned staff, an administrator, and an
anonymous visitor.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.apps import apps as installed_apps
from django.db import connection
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.operations import RunPython
from django.db.migrations.recorder import MigrationRecorder
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from portal.accounts.models import User
from portal.organization.models import Campus, CareTeam, OpeningHours, Practitioner
from portal.patients.models import CareRelationship, Patient, ProxyGrant, Scope

PASSWORD = "correct-horse-battery-staple"


@dataclass
class World:
    """A small clinic with one of each persona. Alice is the patient under test."""

    campus: Campus
    care_team: CareTeam
    scheduling_desk: CareTeam
    alice: Patient
    alice_user: User
    proxy_user: User
    proxy_grant: ProxyGrant
    bob: Patient
    bob_user: User
    clinician: User
    unassigned_staff: User
    scheduler: User
    admin: User

    def persona(self, name: str) -> User:
        """A signed-in persona by name ('anonymous' has no user, so is not one)."""
        user = self.personas()[name]
        assert user is not None
        return user

    def personas(self) -> dict[str, User | None]:
        return {
            "patient": self.alice_user,
            "proxy": self.proxy_user,
            "other_patient": self.bob_user,
            "clinician": self.clinician,
            "unassigned_staff": self.unassigned_staff,
            "admin": self.admin,
            "anonymous": None,
        }


def make_user(username: str, **fields: Any) -> User:
    user = User.objects.create_user(
        username=username, password=PASSWORD, email=f"{username}@example.org", **fields
    )
    return user


def make_patient(
    clinic_number: str, given: str, family: str, campus: Campus, account: User | None = None
) -> Patient:
    return Patient.objects.create(
        clinic_number=clinic_number,
        given_name=given,
        family_name=family,
        birth_date=dt.date(1980, 5, 17),
        sex_at_birth=Patient.Sex.FEMALE,
        email=f"{given.lower()}@example.org",
        primary_campus=campus,
        account=account,
    )


def make_staff(username: str, role: str, team: CareTeam | None = None, **user_fields: Any) -> User:
    user = make_user(username, **user_fields)
    practitioner = Practitioner.objects.create(
        user=user, given_name=username.title(), family_name="Staff", role=role
    )
    if team is not None:
        team.members.add(practitioner)
    return user


def make_world() -> World:
    campus = Campus.objects.create(
        slug="rochester",
        name="Rochester, Minnesota",
        short_name="Rochester",
        address_line="200 First Street SW",
        city="Rochester",
        region="MN",
        postal_code="55905",
        time_zone="America/Chicago",
        zone_label="Central time",
        main_phone="507-555-0100",
        appointments_phone="507-555-0101",
    )
    for weekday in range(5):
        OpeningHours.objects.create(campus=campus, weekday=weekday, opens=dt.time(7), closes=dt.time(18))
    care_team = CareTeam.objects.create(slug="rst-family", name="Family Medicine, Rochester", campus=campus)
    desk = CareTeam.objects.create(
        slug="rst-desk", name="Rochester scheduling desk", campus=campus, kind=CareTeam.Kind.SCHEDULING_DESK
    )
    alice_user = make_user("alice", first_name="Alice", last_name="Able")
    alice = make_patient("10000001", "Alice", "Able", campus, account=alice_user)
    bob_user = make_user("bob", first_name="Bob", last_name="Baker")
    bob = make_patient("10000002", "Bob", "Baker", campus, account=bob_user)
    proxy_user = make_user("pat", first_name="Pat", last_name="Able")
    grant = ProxyGrant.objects.create(
        grantee=proxy_user,
        patient=alice,
        relationship=ProxyGrant.Relationship.CAREGIVER,
        scopes=[Scope.VIEW, Scope.MESSAGE],
        starts_at=timezone.now() - dt.timedelta(days=1),
    )
    clinician = make_staff("carol", Practitioner.Role.PHYSICIAN, care_team)
    practitioner = clinician.practitioner
    CareRelationship.objects.create(
        patient=alice, care_team=care_team, practitioner=practitioner, starts_on=dt.date(2020, 1, 1)
    )
    unassigned = make_staff("dave", Practitioner.Role.PHYSICIAN)
    scheduler = make_staff("sam", Practitioner.Role.SCHEDULER, desk)
    admin = make_staff("root", Practitioner.Role.ADMINISTRATOR, is_superuser=True, is_staff=True)
    return World(
        campus=campus,
        care_team=care_team,
        scheduling_desk=desk,
        alice=alice,
        alice_user=alice_user,
        proxy_user=proxy_user,
        proxy_grant=grant,
        bob=bob,
        bob_user=bob_user,
        clinician=clinician,
        unassigned_staff=unassigned,
        scheduler=scheduler,
        admin=admin,
    )


def as_if_migrated(database: BaseDatabaseWrapper) -> None:
    """Make a test database built from the models (TEST MIGRATE False) what `migrate` would make.

    Every migration is recorded as applied (code that asks what is applied, such as restoring
    a backup, sees an up-to-date database) and the portal's data migrations run forwards,
    with today's models: on an empty database they set up the rows a new install starts
    with (the audit chain's head, the lab test guides) and the rest find nothing to change.
    """
    if database.settings_dict.get("TEST", {}).get("MIGRATE", True) is not False:
        return
    recorder = MigrationRecorder(database)
    graph = MigrationLoader(None, ignore_no_migrations=True).graph
    plan = [node for leaf in graph.leaf_nodes() for node in graph.forwards_plan(leaf)]
    if recorder.has_table() and recorder.applied_migrations():
        # A database kept from an earlier run (--reuse-db): building from the models only
        # adds missing tables, so a migration added since would be silently missing.
        if set(plan) - set(recorder.applied_migrations()):
            raise RuntimeError("the kept test database predates a migration: run pytest with --create-db")
        return
    recorder.ensure_schema()
    MigrationRecorder.Migration.objects.using(database.alias).bulk_create(
        [MigrationRecorder.Migration(app=app, name=name) for app, name in dict.fromkeys(plan)]
    )
    with database.schema_editor() as editor:
        for key in dict.fromkeys(plan):
            migration = graph.nodes[key]
            if not type(migration).__module__.startswith("portal."):
                continue
            for operation in migration.operations:
                if isinstance(operation, RunPython):
                    operation.code(installed_apps, editor)  # type: ignore[arg-type]  # today's models


@contextmanager
def captured_queries() -> Iterator[CaptureQueriesContext]:
    with CaptureQueriesContext(connection) as context:
        yield context


def query_count(call: Callable[[], Any]) -> int:
    """How many SQL queries `call` runs."""
    with captured_queries() as context:
        call()
    return len(context.captured_queries)


# What legitimately differs between two renders of the same 404 page: the per-render
# CSRF token, the current path the language switcher returns to, and the seconds left
# before the idle sign-out (a second may tick between two renders).
PER_RENDER = re.compile(
    rb'name="(csrfmiddlewaretoken|next)" (type="hidden" )?value="[^"]*"|data-seconds-left="[0-9]*"'
)


def assert_same_as_missing(response: Any, missing: Any) -> None:
    """A refused object must look exactly like a missing one: a 404, or the same redirect."""
    assert response.status_code == missing.status_code
    assert response.status_code in (302, 404)
    assert response.get("Location") == missing.get("Location")
    assert PER_RENDER.sub(b"", response.content) == PER_RENDER.sub(b"", missing.content)


def answer_of_new_process(script: str, **environment: str) -> Any:
    """Run `script` in a new Python process of the portal (test mode, the plain settings,
    `environment` added) and return the JSON it printed last; fails with its stderr."""
    result = subprocess.run(  # noqa: S603  # nosec B603  (our own interpreter, a script of the tests)
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env={**os.environ, "PORTAL_ENV": "test", "DJANGO_SETTINGS_MODULE": "portal.settings", **environment},
        cwd=Path(__file__).resolve().parents[1],
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])
