"""The access matrix: every route, as every persona, with every method, against another patient's rows.

The rows belong to Quinn Zzyzx (`matrix_objects.make_victim`), whom no persona may act
for, except the `proxy_without_<scope>` personas, who hold a grant to Quinn with every
scope but one and are asked only for rows that missing scope guards. The routes are
split into shards so xdist spreads them; each shard prints its counts (run with `-s`),
and `test_the_plan_counts` prints the whole matrix's. What each answer may be is in
`matrix_run`'s docstring.
"""

from __future__ import annotations

import pytest
from django.test import Client

from portal.patients.models import Scope
from portal.security_tests import matrix, matrix_run
from portal.security_tests.matrix_objects import Victim, all_scopes, make_victim, proxy_for_victim
from portal.smart.tests.support import issue_token
from portal.test import World

# Run in the SQLite phase only: which persona may open which route is decided in Python, the same on either engine.
pytestmark = pytest.mark.any_database

SHARDS = 6
DATA_KEYS = ("patient", "patient_id", "appointment", "thread", "statement", "report")


def signed_in(user: object) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)  # type: ignore[arg-type]
    return client


def personas(world: World, victim: Victim) -> list[matrix_run.Persona]:
    """Each persona with a client and, for patients and proxies, a FHIR token for their own patient."""
    found = [
        matrix_run.Persona(
            "patient", signed_in(world.alice_user), issue_token(world.alice_user, world.alice)
        ),
        matrix_run.Persona("proxy", signed_in(world.proxy_user), issue_token(world.proxy_user, world.alice)),
        matrix_run.Persona(
            "other_patient", signed_in(world.bob_user), issue_token(world.bob_user, world.bob)
        ),
        matrix_run.Persona("unassigned_staff", signed_in(world.unassigned_staff)),
        matrix_run.Persona("anonymous", Client()),
    ]
    for scope in Scope:
        kept = [other for other in all_scopes() if other != scope]
        user = proxy_for_victim(victim, f"proxy-no-{scope}", kept)
        token = issue_token(user, victim.patient)
        found.append(matrix_run.Persona(f"proxy_without_{scope}", signed_in(user), token, frozenset(kept)))
    return found


def test_every_route_is_one_the_matrix_can_try() -> None:
    unknown = matrix_run.unknown_arguments()
    assert not unknown, (
        "Routes with arguments the access matrix cannot fill: add a Kind to "
        "portal/security_tests/matrix.py (KWARGS/KINDS/FHIR_TYPES):\n" + "\n".join(unknown)
    )


def test_public_routes_exist() -> None:
    names = {route.name for route in matrix.routes()}
    assert not set(matrix.PUBLIC) - names


def test_the_plan_counts() -> None:
    """The whole matrix's size, as the shards will try it (printed for SECURITY.md)."""
    plan = [attempt for route in matrix.routes() for attempt in matrix_run.attempts(route)]
    routes = {attempt.route.name for attempt in plan}
    print(f"\naccess matrix plan: {len(routes)} routes, {len(plan)} URLs, methods {matrix_run.METHODS}")
    assert len(routes) > 400


@pytest.mark.parametrize("shard", range(SHARDS))
def test_no_persona_reaches_another_patients_rows(world: World, shard: int) -> None:
    victim = make_victim(world)
    people = personas(world, victim)
    plan = [attempt for route in matrix.routes()[shard::SHARDS] for attempt in matrix_run.attempts(route)]
    targets = [
        matrix_run.urls(attempt, victim) for attempt in plan
    ]  # builds every row before the fingerprint
    data = {key: str(victim.patient.pk) for key in DATA_KEYS} | {"next": "/"}
    before = matrix_run.fingerprint(victim)
    tally = matrix_run.Tally()
    problems: list[str] = []
    for persona in people:
        # Try to act for the victim first: if the switch took, every later page would show it.
        matrix_run.send(persona, "POST", "/switch-patient/", {"patient": str(victim.patient.pk)})
    for attempt, target in zip(plan, targets, strict=True):
        for persona in people:
            methods = matrix_run.methods_for(persona, attempt, target)
            if methods:
                tally.routes.add(attempt.route.name)
                tally.personas.add(persona.name)
            for method in methods:
                tally.tries[method] += 1
                problems += matrix_run.judge(persona, attempt, method, target, data, tally)
        tally.urls += 1
    after = matrix_run.fingerprint(victim)
    changed = [
        f"{label}: {before[label][0]} rows -> {after[label][0]}"
        for label in before
        if before[label] != after[label]
    ]
    header = tally.header(f"shard {shard + 1}/{SHARDS}")
    print("\n" + header)
    assert not problems and not changed, "\n".join(
        [header, "The other patient's rows changed:", *changed, "Problems:", *problems]
    )
