"""The demo's proxy data: demo-parent acts for a child and an adult; demo-patient has an invitation waiting."""

from __future__ import annotations

import pytest

from portal.accounts.models import User
from portal.lib.seeding.demo_users import create_demo_users
from portal.lib.seeding.organization import seed_organization
from portal.patients.access import Role, portal_patients
from portal.proxies.models import ProxyInvitation

pytestmark = pytest.mark.django_db


def test_demo_parent_acts_for_a_young_child_and_an_adult_dependent() -> None:
    seed_organization()
    create_demo_users()
    accesses = portal_patients(User.objects.get(username="demo-parent"))
    child, dependent = (access for access in accesses if access.role is Role.PROXY)
    assert (child.patient.given_name, dependent.patient.given_name) == ("Mia", "Walter")
    assert child.manages_account and child.hidden_categories == frozenset()
    # Walter's caregiver was appointed when he was long an adult: no end at 18 applies.
    assert not dependent.manages_account and dependent.hidden_categories == frozenset()


def test_demo_patient_has_one_invitation_waiting_however_often_the_demo_is_refreshed() -> None:
    seed_organization()
    create_demo_users()
    create_demo_users()
    invitation = ProxyInvitation.objects.get()
    assert invitation.patient.account is not None and invitation.patient.account.username == "demo-patient"
    assert invitation.status == ProxyInvitation.Status.PENDING
