"""An app's refused API requests are audited for its patient; requests without a valid token are not."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from portal.audit.models import AuditEvent
from portal.fhir.api import auth
from portal.records.models import Observation
from portal.records.tests.support import make_panel
from portal.smart.tests.support import issue_token, make_app
from portal.test import World, query_count

API = "/fhir/r4/"


def get(token: str | None, path: str) -> Any:
    extra: dict[str, Any] = (
        {"HTTP_AUTHORIZATION": f"Bearer {token}", "HTTP_USER_AGENT": "StepCounter/2.0"} if token else {}
    )
    return Client().get(API + path, REMOTE_ADDR="127.0.0.9", **extra)


def refusals() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action="fhir.refused").order_by("sequence"))


@pytest.fixture(autouse=True)
def _fresh_budget() -> None:
    cache.clear()


def test_an_out_of_scope_search_and_read_are_audited(world: World) -> None:
    token = issue_token(world.alice_user, world.alice, "launch/patient patient/Observation.rs")
    assert get(token, f"Condition?patient=patient-{world.alice.pk}").status_code == 403
    assert get(token, "Condition/condition-1").status_code == 403
    search, read = refusals()
    for event in (search, read):
        assert event.patient_id == world.alice.pk
        assert event.actor_id == world.alice_user.pk and event.actor_role == "patient"
        assert event.kind == AuditEvent.Kind.DENIED and event.outcome == AuditEvent.Outcome.DENIED
        assert event.client_ip == "127.0.0.9" and event.user_agent == "StepCounter/2.0"
    assert search.detail == {
        "app": "Health Tracker",
        "resource": "Condition",
        "interaction": "search",
        "status": 403,
    }
    assert read.detail["interaction"] == "read" and read.detail["status"] == 403


def test_another_patients_ids_are_audited_for_the_tokens_patient(world: World) -> None:
    make_panel(world.bob)
    bobs = Observation.objects.filter(patient=world.bob).first()
    assert bobs is not None
    token = issue_token(world.alice_user, world.alice)
    assert get(token, f"Observation/observation-{bobs.pk}").status_code == 404
    assert get(token, f"Patient/patient-{world.bob.pk}").status_code == 404
    observation, patient = refusals()
    assert observation.patient_id == world.alice.pk and patient.patient_id == world.alice.pk
    assert observation.detail == {
        "app": "Health Tracker",
        "resource": "Observation",
        "interaction": "read",
        "status": 404,
        "id": f"observation-{bobs.pk}",
    }
    assert patient.detail["id"] == f"patient-{world.bob.pk}"
    # Bob's log says nothing: the attempt is the app's, on alice's authorization.
    assert not AuditEvent.objects.filter(patient=world.bob, action="fhir.refused").exists()


def test_requests_without_a_valid_token_write_nothing(world: World) -> None:
    before = AuditEvent.objects.count()
    for token in (None, "nonsense", "x" * 600):
        assert get(token, "Condition/condition-1").status_code == 401
        assert get(token, f"Patient/patient-{world.bob.pk}").status_code == 401
    assert AuditEvent.objects.count() == before


def test_allowed_reads_are_not_refusals(world: World) -> None:
    token = issue_token(world.alice_user, world.alice)
    assert get(token, f"Patient/patient-{world.alice.pk}").status_code == 200
    assert get(token, f"Observation?patient=patient-{world.alice.pk}").status_code == 200
    assert refusals() == []


def test_a_proxys_app_attempt_shows_in_the_patients_access_log(world: World) -> None:
    token = issue_token(world.proxy_user, world.alice, "launch/patient patient/Observation.rs")
    assert get(token, f"Condition?patient=patient-{world.alice.pk}").status_code == 403
    (event,) = refusals()
    assert event.actor_id == world.proxy_user.pk and event.actor_role == "proxy"
    client = Client()
    client.force_login(world.alice_user)
    page = client.get(reverse("audit:access_log")).content.decode()
    assert "The app “Health Tracker” asked for something it may not read and was refused" in page
    assert ">Denied</span>" in page


def test_a_flood_of_refusals_is_audited_only_up_to_the_budget(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(auth, "REFUSALS_AUDITED_PER_MINUTE", 3)
    token = issue_token(world.alice_user, world.alice, "launch/patient patient/Observation.rs")
    for _ in range(6):
        assert get(token, "Condition/condition-1").status_code == 403
    assert len(refusals()) == 3
    # Another app's budget is its own.
    other = issue_token(world.alice_user, world.alice, "launch/patient patient/Observation.rs")
    assert get(other, "Condition/condition-1").status_code == 403
    assert len(refusals()) == 4


def test_a_refusal_costs_a_bounded_number_of_queries(world: World) -> None:
    token = issue_token(world.alice_user, world.alice, "launch/patient patient/Observation.rs")
    get(token, "Condition/condition-1")  # warm up: last_used_at is written once a minute
    assert query_count(lambda: get(token, "Condition/condition-1")) <= 8


def test_an_app_the_patient_connected_shows_in_their_own_access_log(world: World) -> None:
    token = issue_token(world.alice_user, world.alice, "launch/patient patient/Observation.rs")
    assert get(token, f"Observation?patient=patient-{world.alice.pk}").status_code == 200
    assert get(token, f"Condition?patient=patient-{world.alice.pk}").status_code == 403
    client = Client()
    client.force_login(world.alice_user)
    page = client.get(reverse("audit:access_log")).content.decode()
    assert "The app “Health Tracker” searched Observation data" in page
    assert "The app “Health Tracker” asked for something it may not read and was refused" in page
    # Her own page views are still not listed as news to her.
    assert "access_log.view" not in page and "Viewed who viewed" not in page


def test_everything_for_another_patient_is_a_refusal_on_record(world: World) -> None:
    token = issue_token(world.alice_user, world.alice)
    assert get(token, f"Patient/patient-{world.bob.pk}/$everything").status_code == 404
    (event,) = refusals()
    assert event.patient_id == world.alice.pk and event.detail["interaction"] == "everything"


def test_a_parent_never_sees_the_teens_own_apps_in_the_access_log(world: World) -> None:
    from portal.patients.selection import SESSION_KEY
    from portal.records.tests.test_release_rules import adolescent

    teen, teen_user, parent = adolescent(world)
    app = make_app("Secret Clinic Tracker")
    token = issue_token(teen_user, teen, "launch/patient patient/Observation.rs", app=app)
    assert get(token, f"Observation?patient=patient-{teen.pk}").status_code == 200
    assert get(token, f"Condition?patient=patient-{teen.pk}").status_code == 403
    teen_client, parent_client = Client(), Client()
    teen_client.force_login(teen_user)
    assert "Secret Clinic Tracker" in teen_client.get(reverse("audit:access_log")).content.decode()
    parent_client.force_login(parent)
    session = parent_client.session
    session[SESSION_KEY] = teen.pk
    session.save()
    page = parent_client.get(reverse("audit:access_log"))
    assert page.status_code == 200 and page.context["access"].patient == teen
    assert "Secret Clinic Tracker" not in page.content.decode()
