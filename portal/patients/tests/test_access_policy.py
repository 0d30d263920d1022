from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from portal.audit.actor import Actor
from portal.organization.models import CareTeam
from portal.patients import access
from portal.patients.access import Role
from portal.patients.actions import BreakGlassRefused, do_break_glass
from portal.patients.models import BreakGlassAccess, CareRelationship, Patient, Scope
from portal.test import World, make_staff

pytestmark = pytest.mark.django_db


def test_it_gives_the_patient_every_scope(world: World) -> None:
    decided = access.decide(world.alice_user, world.alice)
    assert decided is not None
    assert decided.role is Role.SELF
    assert decided.scopes == {Scope.VIEW, Scope.MESSAGE, Scope.SCHEDULE, Scope.BILLING}


def test_it_gives_a_proxy_only_the_granted_scopes(world: World) -> None:
    decided = access.decide(world.proxy_user, world.alice)
    assert decided is not None
    assert decided.role is Role.PROXY
    assert decided.scopes == {Scope.VIEW, Scope.MESSAGE}
    assert not decided.allows(Scope.BILLING)


def test_it_refuses_another_patient(world: World) -> None:
    assert access.decide(world.bob_user, world.alice) is None
    assert access.decide(world.alice_user, world.bob) is None


def test_it_refuses_anonymous_visitors(world: World) -> None:
    from django.contrib.auth.models import AnonymousUser

    assert access.decide(AnonymousUser(), world.alice) is None


def test_it_stops_honouring_an_expired_grant(world: World) -> None:
    world.proxy_grant.expires_at = timezone.now() - dt.timedelta(seconds=1)
    world.proxy_grant.save()
    assert access.decide(world.proxy_user, world.alice) is None
    assert access.portal_patients(world.proxy_user) == []


def test_it_does_not_honour_a_grant_before_it_starts(world: World) -> None:
    world.proxy_grant.starts_at = timezone.now() + dt.timedelta(days=1)
    world.proxy_grant.save()
    assert access.decide(world.proxy_user, world.alice) is None


def test_it_stops_honouring_a_revoked_grant(world: World) -> None:
    world.proxy_grant.revoked_at = timezone.now()
    world.proxy_grant.save()
    assert access.decide(world.proxy_user, world.alice) is None


def test_it_lets_the_care_team_clinician_in(world: World) -> None:
    decided = access.decide(world.clinician, world.alice)
    assert decided is not None
    assert decided.role is Role.STAFF
    assert decided.allows(Scope.VIEW)
    assert not decided.allows(Scope.BILLING)


def test_it_refuses_the_care_team_after_the_relationship_ends(world: World) -> None:
    CareRelationship.objects.filter(patient=world.alice).update(ends_on=dt.date(2021, 1, 1))
    assert access.decide(world.clinician, world.alice) is None


def test_it_refuses_unassigned_staff_and_administrators(world: World) -> None:
    assert access.decide(world.unassigned_staff, world.alice) is None
    assert access.decide(world.admin, world.alice) is None


def test_it_refuses_a_deactivated_practitioner(world: World) -> None:
    world.clinician.practitioner.active = False
    world.clinician.practitioner.save()
    assert access.decide(world.clinician, world.alice) is None


def test_it_gives_scheduling_desk_staff_scheduling_for_everyone(world: World) -> None:
    decided = access.decide(world.scheduler, world.bob)
    assert decided is not None
    assert decided.scopes == {Scope.SCHEDULE}


def test_it_gives_the_billing_office_billing_only(world: World) -> None:
    office = CareTeam.objects.create(slug="billing", name="Billing office", kind=CareTeam.Kind.BILLING_OFFICE)
    biller = make_staff("bill", "billing", office)
    decided = access.decide(biller, world.alice)
    assert decided is not None
    assert decided.scopes == {Scope.BILLING}


def test_break_glass_gives_time_limited_flagged_access(world: World) -> None:
    actor = Actor(user=world.unassigned_staff, client_ip="127.0.0.1")
    grant = do_break_glass(actor, world.alice, "Patient unconscious in the emergency department")
    decided = access.decide(world.unassigned_staff, world.alice)
    assert decided is not None
    assert decided.role is Role.BREAK_GLASS
    later = grant.expires_at + dt.timedelta(seconds=1)
    assert access.decide(world.unassigned_staff, world.alice, at=later) is None


def test_break_glass_needs_a_real_reason(world: World) -> None:
    actor = Actor(user=world.unassigned_staff, client_ip="127.0.0.1")
    with pytest.raises(BreakGlassRefused):
        do_break_glass(actor, world.alice, "because")
    assert not BreakGlassAccess.objects.exists()


def test_break_glass_is_only_for_staff(world: World) -> None:
    with pytest.raises(BreakGlassRefused):
        do_break_glass(Actor(user=world.bob_user), world.alice, "I would like to read my neighbour's record")
    assert not BreakGlassAccess.objects.exists()


def test_portal_patients_lists_self_then_proxied(world: World) -> None:
    world.proxy_grant.grantee = world.bob_user
    world.proxy_grant.save()
    accesses = access.portal_patients(world.bob_user)
    assert [a.patient for a in accesses] == [world.bob, world.alice]
    assert [a.role for a in accesses] == [Role.SELF, Role.PROXY]


def test_staff_patients_is_limited_to_care_relationships(world: World) -> None:
    assert list(access.staff_patients(world.clinician)) == [world.alice]
    assert list(access.staff_patients(world.unassigned_staff)) == []
    assert set(access.staff_patients(world.scheduler)) == {world.alice, world.bob}
    assert list(access.staff_patients(world.alice_user)) == []


def test_scoped_lists_follow_the_proxy_scopes(world: World) -> None:
    everyone = Patient.objects.all()
    assert list(access.scoped(everyone, world.proxy_user, Scope.VIEW, patient_field="pk")) == [world.alice]
    assert list(access.scoped(everyone, world.proxy_user, Scope.BILLING, patient_field="pk")) == []
