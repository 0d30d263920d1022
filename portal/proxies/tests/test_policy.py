"""The proxy rules in the access policy: ages 12 and 18, confidential categories, account changes."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from portal.patients import access
from portal.patients.access import PatientAccess, Role
from portal.patients.models import Patient, ProxyGrant, Scope
from portal.test import World, make_patient

pytestmark = pytest.mark.django_db

CONFIDENTIAL = {"sexual-health", "reproductive-health", "mental-health", "substance-use"}


def _child(world: World, number: str, born: dt.date) -> Patient:
    child = make_patient(number, "Charlie", "Able", world.campus)
    child.birth_date = born
    child.save(update_fields=["birth_date"])
    return child


def _parent_grant(
    world: World, child: Patient, relationship: str = ProxyGrant.Relationship.PARENT
) -> ProxyGrant:
    return ProxyGrant.objects.create(
        grantee=world.alice_user,
        patient=child,
        relationship=relationship,
        scopes=list(Scope.values),
        starts_at=timezone.now() - dt.timedelta(days=1),
    )


def _years_ago(years: int, days: int = 0) -> dt.date:
    today = timezone.localdate()
    return today.replace(year=today.year - years) - dt.timedelta(days=days)


def test_a_parent_of_a_child_under_12_sees_everything(world: World) -> None:
    child = _child(world, "20000001", _years_ago(8))
    _parent_grant(world, child)
    decided = access.decide(world.alice_user, child)
    assert decided is not None
    assert decided.role is Role.PROXY
    assert decided.scopes == set(Scope.values)
    assert decided.hidden_categories == frozenset()
    assert decided.manages_account


def test_a_parent_of_a_15_year_old_does_not_see_confidential_categories(world: World) -> None:
    child = _child(world, "20000002", _years_ago(15))
    _parent_grant(world, child)
    decided = access.decide(world.alice_user, child)
    assert decided is not None
    assert decided.hidden_categories == CONFIDENTIAL
    assert decided.hides("Mental-Health")
    assert not decided.hides("immunizations")
    assert not decided.manages_account
    switcher = {a.patient.pk: a for a in access.portal_patients(world.alice_user)}
    assert switcher[child.pk].hidden_categories == CONFIDENTIAL


def test_confidentiality_starts_on_the_12th_birthday(world: World) -> None:
    child = _child(world, "20000003", _years_ago(12, days=-1))  # 12 tomorrow
    _parent_grant(world, child)
    decided = access.decide(world.alice_user, child)
    assert decided is not None and decided.hidden_categories == frozenset()
    with time_machine.travel(timezone.now() + dt.timedelta(days=1), tick=False):
        decided = access.decide(world.alice_user, child)
        assert decided is not None and decided.hidden_categories == CONFIDENTIAL


def test_the_adolescent_and_their_care_team_see_everything(world: World) -> None:
    teen = _child(world, "20000004", _years_ago(15))
    teen.account = world.bob_user
    world.bob.account = None
    world.bob.save(update_fields=["account"])
    teen.save(update_fields=["account"])
    own = access.decide(world.bob_user, teen)
    assert own is not None and own.role is Role.SELF and own.hidden_categories == frozenset()
    assert access.decide(world.scheduler, teen) is not None
    assert access.decide(world.scheduler, teen).hidden_categories == frozenset()  # type: ignore[union-attr]


def test_the_categories_are_configurable(world: World, settings: object) -> None:
    settings.PORTAL_ADOLESCENT_CONFIDENTIAL_CATEGORIES = frozenset({"genetics"})  # type: ignore[attr-defined]
    child = _child(world, "20000005", _years_ago(14))
    _parent_grant(world, child)
    decided = access.decide(world.alice_user, child)
    assert decided is not None and decided.hidden_categories == {"genetics"}


def test_a_parents_access_ends_on_the_18th_birthday(world: World) -> None:
    child = _child(world, "20000006", _years_ago(18, days=-3))  # 18 in three days
    _parent_grant(world, child)
    assert access.decide(world.alice_user, child) is not None
    with time_machine.travel(timezone.now() + dt.timedelta(days=2), tick=False):
        assert access.decide(world.alice_user, child) is not None
    with time_machine.travel(timezone.now() + dt.timedelta(days=3), tick=False):
        assert access.decide(world.alice_user, child) is None
        assert [a.patient for a in access.portal_patients(world.alice_user)] == [world.alice]
        everyone = Patient.objects.all()
        assert child not in access.scoped(everyone, world.alice_user, Scope.VIEW, patient_field="pk")


def test_a_caregiver_appointed_in_childhood_also_ends_at_18(world: World) -> None:
    child = _child(world, "20000007", _years_ago(18, days=-1))
    _parent_grant(world, child, ProxyGrant.Relationship.CAREGIVER)
    with time_machine.travel(timezone.now() + dt.timedelta(days=1), tick=False):
        assert access.decide(world.alice_user, child) is None


def test_a_legal_representative_keeps_access_after_18(world: World) -> None:
    child = _child(world, "20000008", _years_ago(18, days=-1))
    _parent_grant(world, child, ProxyGrant.Relationship.LEGAL_REPRESENTATIVE)
    with time_machine.travel(timezone.now() + dt.timedelta(days=1), tick=False):
        decided = access.decide(world.alice_user, child)
        assert decided is not None
        assert decided.hidden_categories == frozenset()
        assert decided.manages_account


def test_a_grant_made_for_an_adult_carries_on(world: World) -> None:
    # The world's caregiver grant was made when Alice was already an adult.
    decided = access.decide(world.proxy_user, world.alice)
    assert decided is not None
    assert decided.hidden_categories == frozenset()
    assert not decided.manages_account


def test_filter_confidential_leaves_out_hidden_categories(world: World) -> None:
    # Any model with a category column will do; gender identity stands in for one here.
    for number, category in [("30000001", "mental-health"), ("30000002", "immunizations"), ("30000003", "")]:
        patient = make_patient(number, "Row", number, world.campus)
        patient.gender_identity = category
        patient.save(update_fields=["gender_identity"])
    rows = Patient.objects.filter(given_name="Row")
    proxy = PatientAccess(
        world.alice_user,
        world.alice,
        Role.PROXY,
        frozenset({Scope.VIEW}),
        hidden_categories=frozenset(CONFIDENTIAL),
    )
    shown = access.filter_confidential(rows, proxy, category_field="gender_identity")
    assert sorted(shown.values_list("gender_identity", flat=True)) == ["", "immunizations"]
    own = PatientAccess(world.alice_user, world.alice, Role.SELF, frozenset(Scope.values))
    assert access.filter_confidential(rows, own, category_field="gender_identity").count() == 3


def test_visible_categories_filters_a_list(world: World) -> None:
    proxy = PatientAccess(
        world.alice_user,
        world.alice,
        Role.PROXY,
        frozenset({Scope.VIEW}),
        hidden_categories=frozenset(CONFIDENTIAL),
    )
    categories = ["laboratory", "mental-health", "Sexual-Health", "imaging"]
    assert access.visible_categories(proxy, categories) == ["laboratory", "imaging"]


def test_only_the_patient_or_a_young_childs_guardian_manages_the_account(world: World) -> None:
    own = access.decide(world.alice_user, world.alice)
    assert own is not None and own.manages_account
    staff = access.decide(world.clinician, world.alice)
    assert staff is not None and not staff.manages_account
    child = _child(world, "20000009", _years_ago(6))
    _parent_grant(world, child, ProxyGrant.Relationship.CAREGIVER)
    caregiver = access.decide(world.alice_user, child)
    assert caregiver is not None and not caregiver.manages_account
