from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from portal.lib.seeding.organization import seed_organization
from portal.organization.models import Campus
from portal.patients.models import Patient
from portal.registration.demo import (
    DEMO_ACTIVATION_CODE,
    DemoRegistration,
    create_demo_registration,
    describe,
)
from portal.registration.models import AccessRequest, ActivationCode
from portal.registration.tests.personas import solved_challenge

pytestmark = pytest.mark.django_db


def _generated(number: int, campus: str, born: dt.date = dt.date(1970, 1, 1)) -> Patient:
    return Patient.objects.create(
        clinic_number=str(20_000_000 + number),
        given_name=f"Gen{number}",
        family_name="Erated",
        birth_date=born,
        sex_at_birth=Patient.Sex.OTHER,
        primary_campus=Campus.objects.get(slug=campus),
    )


def _typed(demo: DemoRegistration) -> dict[str, Any]:
    return {
        "clinic_number": demo.clinic_number,
        "given_name": demo.given_name,
        "family_name": demo.family_name,
        "birth_date": demo.birth_date.isoformat(),
        "email": "newcomer@example.net",
        "activation_code": demo.code,
        **solved_challenge(),
    }


def test_the_demo_newcomer_registers_with_the_printed_code(client: Client) -> None:
    seed_organization()
    _generated(5, "london")
    _generated(3, "rochester", born=dt.date(2020, 1, 1))  # a child: never the newcomer
    rochester = _generated(4, "rochester")
    _generated(6, "rochester")
    demo = create_demo_registration()
    assert demo is not None and demo.clinic_number == rochester.clinic_number
    assert DEMO_ACTIVATION_CODE in describe(demo, "127.0.0.1:8000")
    assert client.post(reverse("registration:create_account"), _typed(demo)).status_code == 302
    assert set(AccessRequest.objects.values_list("kind", "family_name")) == {
        ("us", "Erated"),
        ("international", "Erated"),
    }
    assert not AccessRequest.objects.filter(given_name=rochester.given_name).exists()


def test_refreshing_the_demo_moves_a_used_code_on_and_keeps_its_history() -> None:
    seed_organization()
    first = _generated(1, "rochester")
    second = _generated(2, "rochester")
    create_demo_registration()
    used = ActivationCode.objects.get()
    ActivationCode.objects.update(used_at="2026-01-01T00:00:00Z")
    Patient.objects.filter(pk=first.pk).update(account=None)
    demo = create_demo_registration()
    assert demo is not None
    # The same patient is still unregistered, so the used code is retired and a new one published.
    used.refresh_from_db()
    assert used.patient_id == first.pk and used.used_at is not None
    assert ActivationCode.objects.usable().get().patient_id in (first.pk, second.pk)


def test_without_unregistered_adults_there_is_nothing_to_print() -> None:
    seed_organization()
    assert create_demo_registration() is None
    assert "no one" in describe(None, "127.0.0.1:8000")
