"""CarePlan: a visit's instructions and follow-up, as a US Core assessment-and-plan CarePlan."""

from __future__ import annotations

import pytest

from portal.fhir import codes
from portal.fhir.tests.test_api_gaps_capability import fetch, found, ids, refused, valid, walk
from portal.patients.models import Scope
from portal.records.models import Encounter
from portal.records.tests.support import days_ago, make_visit
from portal.smart.tests.support import issue_token
from portal.test import World


@pytest.fixture
def visits(world: World) -> dict[str, Encounter]:
    return {
        "recent": make_visit(
            world.alice,
            practitioner=world.clinician.practitioner,
            instructions="Rest <b>two</b> days & drink water.\nCall if worse.",
            follow_up="",
            started_at=days_ago(5),
        ),
        "older": make_visit(world.alice, started_at=days_ago(200)),
        "cancelled": make_visit(world.alice, status=Encounter.Status.CANCELLED, started_at=days_ago(100)),
        "nothing": make_visit(world.alice, instructions="", follow_up=""),
        "bobs": make_visit(world.bob),
    }


def test_a_visit_with_instructions_is_a_care_plan(world: World, visits: dict[str, Encounter]) -> None:
    token = issue_token(world.alice_user, world.alice)
    recent = visits["recent"]
    data = valid(fetch(token, f"CarePlan/visitplan-{recent.pk}"))
    assert data["meta"]["profile"] == [codes.US_CORE + "us-core-careplan"]
    assert data["status"] == "unknown" and data["intent"] == "plan"
    assert data["category"][0]["coding"][0]["code"] == "assess-plan"
    assert data["subject"] == {"reference": f"Patient/patient-{world.alice.pk}"}
    assert data["encounter"] == {"reference": f"Encounter/encounter-{recent.pk}"}
    assert data["author"]["reference"] == f"Practitioner/practitioner-{world.clinician.practitioner.pk}"
    assert data["text"]["status"] == "additional"
    div = data["text"]["div"]
    assert div.startswith('<div xmlns="http://www.w3.org/1999/xhtml">') and "<b>" not in div
    assert "&lt;b&gt;two&lt;/b&gt;" in div and "&amp; drink" in div and "<br/>" in div
    older = valid(fetch(token, f"CarePlan/visitplan-{visits['older'].pk}"))
    assert "Follow-up" in older["text"]["div"] and older["note"][0]["text"].startswith("Follow-up:")
    assert valid(fetch(token, f"CarePlan/visitplan-{visits['cancelled'].pk}"))["status"] == "revoked"


def test_only_visits_with_a_plan_and_the_searches(world: World, visits: dict[str, Encounter]) -> None:
    token = issue_token(world.alice_user, world.alice)
    plans = [r["id"] for r in walk(token, "CarePlan")]
    assert plans == [f"visitplan-{visits[key].pk}" for key in ("recent", "cancelled", "older")]
    refused(fetch(token, f"CarePlan/visitplan-{visits['nothing'].pk}"), 404)

    def hits(query: str) -> set[str]:
        return {r["id"] for r in found(valid(fetch(token, f"CarePlan?{query}")))}

    everyone = set(plans)
    category = "http://hl7.org/fhir/us/core/CodeSystem/careplan-category|assess-plan"
    assert hits(f"patient=Patient/patient-{world.alice.pk}&category={category}") == everyone
    assert hits("category=other") == set()
    assert hits("status=revoked") == {f"visitplan-{visits['cancelled'].pk}"}
    assert hits("status=unknown,revoked") == everyone and hits("status=active") == set()
    assert hits("intent=plan") == everyone and hits("intent=order") == set()
    assert hits("date=ge" + days_ago(50).date().isoformat()) == {f"visitplan-{visits['recent'].pk}"}
    assert [r["id"] for r in walk(token, "CarePlan?_sort=date")] == plans[::-1]


def test_proxies_strangers_and_no_token(world: World, visits: dict[str, Encounter]) -> None:
    path = f"CarePlan/visitplan-{visits['recent'].pk}"
    proxy = issue_token(world.proxy_user, world.alice)
    valid(fetch(proxy, path))
    refused(
        fetch(issue_token(world.proxy_user, world.alice, "launch/patient patient/Encounter.rs"), path), 403
    )
    bob = issue_token(world.bob_user, world.bob)
    refused(fetch(bob, path), 404)
    assert ids(walk(bob, "CarePlan")) == {f"CarePlan/visitplan-{visits['bobs'].pk}"}
    refused(fetch(None, path), 401)
    world.proxy_grant.scopes = [Scope.SCHEDULE]
    world.proxy_grant.save()
    refused(fetch(proxy, path), 401)
