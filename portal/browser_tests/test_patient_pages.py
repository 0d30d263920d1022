from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from portal.audit.actor import Actor
from portal.audit.log import Kind, record
from portal.browser_tests.conftest import LogIn, check_page
from portal.notifications.models import Notification, Task
from portal.patients.models import ProxyGrant, Scope
from portal.test import World, make_patient

pytestmark = pytest.mark.browser


def test_the_dashboard_shows_tasks_notifications_and_care(page: Page, world: World, log_in: LogIn) -> None:
    Task.objects.create(
        patient=world.alice,
        title="Fill in your health questionnaire",
        detail="It takes about ten minutes.",
        due_on=dt.date(2030, 1, 31),
    )
    Notification.objects.create(recipient=world.alice_user, patient=world.alice, title="A new test result")
    log_in(world.alice_user)
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Alice")
    expect(page.get_by_text("Fill in your health questionnaire", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="A new test result")).to_be_visible()
    expect(page.get_by_text("Family Medicine, Rochester")).to_be_visible()
    check_page(page)

    page.get_by_role(
        "button", name=re.compile(r"^Mark as done\s*: Fill in your health questionnaire$")
    ).click()
    expect(page.get_by_role("status")).to_contain_text("as done")
    check_page(page)


def test_the_notifications_page(page: Page, world: World, log_in: LogIn) -> None:
    Notification.objects.create(
        recipient=world.alice_user,
        patient=world.alice,
        title="Your appointment is confirmed",
        body="See you on Tuesday at the Rochester campus.",
    )
    Notification.objects.create(
        recipient=world.alice_user, patient=world.alice, title="A message from your care team"
    )
    log_in(world.alice_user)
    page.goto("/notifications/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Notifications")
    expect(page.get_by_text("See you on Tuesday")).to_be_visible()
    check_page(page)

    page.get_by_role("button", name="Mark all as read").click()
    expect(page.get_by_role("status")).to_contain_text("marked as read")
    check_page(page)


def test_an_empty_notifications_page(page: Page, world: World, log_in: LogIn) -> None:
    log_in(world.alice_user)
    page.goto("/notifications/")
    expect(page.get_by_text("You have no notifications.")).to_be_visible()
    check_page(page)


def test_who_viewed_my_record(page: Page, world: World, log_in: LogIn) -> None:
    record(Actor(user=world.clinician), "patient.view", kind=Kind.READ, role="staff", patient=world.alice)
    record(
        Actor(user=world.unassigned_staff),
        "patient.view",
        kind=Kind.READ,
        role="break_glass",
        patient=world.alice,
        flagged=True,
    )
    log_in(world.alice_user)
    page.goto("/")
    check_page(page)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Who viewed my record").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Who viewed my record")
    log = page.get_by_role("region", name="Access history")
    expect(log).to_contain_text("Dr. Carol Staff")
    expect(log).to_contain_text("Emergency access")
    check_page(page)


def test_an_empty_access_log(page: Page, world: World, log_in: LogIn) -> None:
    log_in(world.alice_user)
    page.goto("/record-access/")
    expect(page.get_by_text("Nobody else has viewed this record yet.")).to_be_visible()
    check_page(page)


def test_the_proxy_sees_alices_account(page: Page, world: World, log_in: LogIn) -> None:
    log_in(world.proxy_user)
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Pat. You are viewing Alice's account.")
    context_bar = page.get_by_role("region", name="Whose account you are viewing")
    expect(context_bar).to_contain_text("Viewing Alice Able's account (you are: Caregiver)")
    check_page(page)
    page.goto("/notifications/")
    check_page(page)
    page.goto("/record-access/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Who viewed my record")
    check_page(page)


def test_the_proxy_without_the_view_scope_is_told_so(page: Page, world: World, log_in: LogIn) -> None:
    ProxyGrant.objects.filter(pk=world.proxy_grant.pk).update(scopes=[Scope.MESSAGE])
    log_in(world.proxy_user)
    page.goto("/record-access/")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "This part of the account is not shared with you"
    )
    check_page(page)


def test_it_switches_patient_with_the_switcher(page: Page, world: World, log_in: LogIn) -> None:
    child = make_patient("10000003", "Charlie", "Able", world.campus)
    ProxyGrant.objects.create(
        grantee=world.alice_user,
        patient=child,
        relationship=ProxyGrant.Relationship.PARENT,
        scopes=[Scope.VIEW, Scope.MESSAGE],
        starts_at=timezone.now() - dt.timedelta(days=1),
    )
    log_in(world.alice_user)
    page.goto("/notifications/")
    switcher = page.get_by_label("Switch to")
    expect(switcher.locator("option:checked")).to_have_text("Alice Able (you)")
    check_page(page)

    switcher.select_option(label="Charlie Able")
    page.get_by_role("button", name="Switch", exact=True).click()
    expect(page).to_have_url(re.compile(r"/notifications/$"))
    expect(page.get_by_role("status")).to_contain_text("You are now viewing Charlie Able's account.")
    context_bar = page.get_by_role("region", name="Whose account you are viewing")
    expect(context_bar).to_contain_text("Viewing Charlie Able's account (you are: Parent or guardian)")
    check_page(page)

    page.get_by_role("link", name="Home").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Hello, Alice. You are viewing Charlie's account."
    )
    check_page(page)


def test_a_user_with_no_patient_record(page: Page, world: World, log_in: LogIn) -> None:
    world.alice.account = None
    world.alice.save(update_fields=["account"])
    log_in(world.alice_user)
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Your account is not linked to a patient record yet"
    )
    check_page(page)
