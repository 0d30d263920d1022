"""Sessions: idle timeout, absolute lifetime, the sessions list, and old sessions refused."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import time_machine
from allauth.usersessions.models import UserSession
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from portal.accounts.sessions import EXPIRY_GRACE_SECONDS
from portal.accounts.tests.helpers import sign_in, verify_email
from portal.audit.models import AuditEvent
from portal.test import PASSWORD, World

pytestmark = pytest.mark.django_db

START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
NEW_PASSWORD = "violet lantern under seven bridges"


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def alice(world: World) -> Client:
    verify_email(world.alice_user)
    client = Client()
    assert sign_in(client, "alice")["Location"] == reverse("home")
    return client


def is_signed_in(client: Client) -> bool:
    response = client.get(reverse("home"))
    return bool(response.status_code == 200)


def test_a_session_idle_for_fifteen_minutes_is_signed_out(
    clock: time_machine.Traveller, world: World
) -> None:
    verify_email(world.alice_user)
    client = Client()
    sign_in(client, "alice")
    clock.shift(dt.timedelta(minutes=14, seconds=59))
    assert is_signed_in(client)
    clock.shift(dt.timedelta(minutes=15))
    response = client.get(reverse("notifications:list"))
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('account_login')}?next={reverse('notifications:list')}"
    page = client.get(response["Location"]).content.decode()
    assert "did nothing for 15 minutes" in page
    event = AuditEvent.objects.filter(action="auth.sign_out").get()
    assert event.detail == {"reason": "session_idle"}


def test_a_script_asking_for_json_gets_a_json_401_when_signed_out(
    clock: time_machine.Traveller, world: World
) -> None:
    verify_email(world.alice_user)
    client = Client()
    sign_in(client, "alice")
    clock.shift(dt.timedelta(minutes=16))
    response = client.get(reverse("notifications:list"), headers={"Accept": "application/json"})
    assert response.status_code == 401
    assert response.json() == {"remaining": 0, "signed_in": False}


def test_activity_keeps_a_session_going_until_its_twelve_hours_are_up(
    clock: time_machine.Traveller, world: World
) -> None:
    verify_email(world.alice_user)
    client = Client()
    sign_in(client, "alice")
    for _step in range(12 * 6 - 1):
        clock.shift(dt.timedelta(minutes=10))
        assert is_signed_in(client)
    clock.shift(dt.timedelta(minutes=10))
    response = client.get(reverse("home"))
    assert response["Location"].startswith(reverse("account_login"))
    assert AuditEvent.objects.get(action="auth.sign_out").detail == {"reason": "session_lifetime"}


def test_the_database_session_expires_soon_after_the_idle_timeout(
    clock: time_machine.Traveller, alice: Client
) -> None:
    key = alice.session.session_key
    expiry = Session.objects.get(session_key=key).expire_date
    idle = dt.timedelta(minutes=settings.PORTAL_IDLE_TIMEOUT_MINUTES)
    assert expiry == timezone.now() + idle + dt.timedelta(seconds=EXPIRY_GRACE_SECONDS)


def test_asking_how_long_is_left_is_not_activity(clock: time_machine.Traveller, alice: Client) -> None:
    clock.shift(dt.timedelta(minutes=10))
    status = alice.get(reverse("accounts:session_status")).json()
    assert status == {"signed_in": True, "remaining": 5 * 60, "warning": settings.PORTAL_IDLE_WARNING_SECONDS}
    clock.shift(dt.timedelta(minutes=5))
    expired = alice.get(reverse("accounts:session_status"))
    assert expired.status_code == 401
    assert expired.json()["signed_in"] is False


def test_stay_signed_in_extends_the_session(clock: time_machine.Traveller, alice: Client) -> None:
    clock.shift(dt.timedelta(minutes=14, seconds=30))
    answer = alice.post(reverse("accounts:session_extend")).json()
    assert answer["remaining"] == 15 * 60
    clock.shift(dt.timedelta(minutes=14))
    assert is_signed_in(alice)


def test_extending_needs_a_post(alice: Client) -> None:
    assert alice.get(reverse("accounts:session_extend")).status_code == 405


def test_pages_carry_the_timeout_warning_with_the_time_left(
    clock: time_machine.Traveller, alice: Client
) -> None:
    clock.shift(dt.timedelta(minutes=3))
    page = alice.get(reverse("accounts:security")).content.decode()
    assert 'role="alertdialog"' in page
    assert 'data-seconds-left="900"' in page
    assert "js/session-timeout.js" in page


def test_anonymous_pages_have_no_timeout_warning(client: Client) -> None:
    assert "session-timeout" not in client.get(reverse("account_login")).content.decode()


def test_the_sessions_page_lists_sessions_and_signs_out_everywhere_else(world: World) -> None:
    verify_email(world.alice_user)
    laptop, phone = Client(HTTP_USER_AGENT="Laptop browser"), Client(HTTP_USER_AGENT="Phone browser")
    sign_in(laptop, "alice")
    sign_in(phone, "alice")
    page = laptop.get(reverse("usersessions_list")).content.decode()
    assert "Laptop browser" in page and "Phone browser" in page
    assert "This browser" in page

    response = laptop.post(reverse("usersessions_list"))
    assert response.status_code == 302
    assert is_signed_in(laptop)
    assert not is_signed_in(phone)
    assert UserSession.objects.filter(user=world.alice_user).count() == 1
    event = AuditEvent.objects.get(action="auth.sessions_ended")
    assert event.detail == {"count": 1, "reason": "signed_out_elsewhere"}


def test_the_security_page_shows_sessions_and_links_every_setting(world: World) -> None:
    verify_email(world.alice_user)
    laptop, phone = Client(HTTP_USER_AGENT="Laptop browser"), Client(HTTP_USER_AGENT="Phone browser")
    sign_in(laptop, "alice")
    sign_in(phone, "alice")
    page = laptop.get(reverse("accounts:security")).content.decode()
    for url in (
        reverse("account_change_password"),
        reverse("mfa_activate_totp"),
        reverse("mfa_add_webauthn"),
        reverse("usersessions_list"),
        reverse("account_email"),
    ):
        assert f'href="{url}"' in page or f'action="{url}"' in page
    assert "Phone browser" in page
    assert "Sign out everywhere else" in page


def test_a_session_is_refused_after_signing_out(alice: Client) -> None:
    cookie = alice.cookies[settings.SESSION_COOKIE_NAME].value
    alice.post(reverse("account_logout"))
    replay = Client()
    replay.cookies[settings.SESSION_COOKIE_NAME] = cookie
    assert not is_signed_in(replay)


def test_sessions_are_refused_after_a_password_reset(world: World, alice: Client) -> None:
    from portal.accounts.tests.test_recovery import ask_for_reset, follow_reset_link, reset_link

    other = Client()
    ask_for_reset(other, "alice@example.org")
    form_url = follow_reset_link(other, reset_link())
    other.post(form_url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert not is_signed_in(alice)
    assert not UserSession.objects.filter(user=world.alice_user).exists()
    assert AuditEvent.objects.get(action="auth.sessions_ended").detail["reason"] == "password_reset"


def test_sessions_are_refused_after_deactivation(world: World, alice: Client) -> None:
    world.alice_user.is_active = False
    world.alice_user.save()
    assert not is_signed_in(alice)


def test_a_password_change_signs_out_other_sessions_by_default(world: World, alice: Client) -> None:
    other = Client()
    sign_in(other, "alice")
    response = alice.post(
        reverse("account_change_password"),
        {
            "oldpassword": PASSWORD,
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
            "sign_out_other_sessions": "on",
        },
    )
    assert response.status_code == 302
    assert is_signed_in(alice)
    assert not is_signed_in(other)
    assert AuditEvent.objects.filter(action="auth.password_change").exists()


def test_a_password_change_can_keep_other_sessions(world: World, alice: Client) -> None:
    other = Client()
    sign_in(other, "alice")
    alice.post(
        reverse("account_change_password"),
        {"oldpassword": PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert is_signed_in(alice)
    assert is_signed_in(other)
    assert AuditEvent.objects.get(action="auth.sessions_kept").detail == {"count": 1}


def test_the_change_password_page_offers_the_choice_checked(alice: Client) -> None:
    page = alice.get(reverse("account_change_password")).content.decode()
    assert 'name="sign_out_other_sessions"' in page
    assert "checked" in page.split('name="sign_out_other_sessions"')[1].split(">")[0]


def test_idle_sessions_drop_off_the_list(clock: time_machine.Traveller, world: World) -> None:
    verify_email(world.alice_user)
    laptop, phone = Client(HTTP_USER_AGENT="Laptop browser"), Client(HTTP_USER_AGENT="Phone browser")
    sign_in(phone, "alice")
    clock.shift(dt.timedelta(minutes=10))
    sign_in(laptop, "alice")
    clock.shift(dt.timedelta(minutes=6))
    page = laptop.get(reverse("usersessions_list")).content.decode()
    assert "Laptop browser" in page
    assert "Phone browser" not in page
    assert "not signed in anywhere else" in page


def test_near_the_end_of_its_lifetime_the_page_warns_sooner(
    clock: time_machine.Traveller, world: World
) -> None:
    verify_email(world.alice_user)
    client = Client()
    sign_in(client, "alice")
    for _step in range(71):
        clock.shift(dt.timedelta(minutes=10))
        client.get(reverse("accounts:session_status"))
        client.post(reverse("accounts:session_extend"))
    # 11 h 50 min after signing in: ten minutes are left, however active the user is.
    page = client.get(reverse("accounts:security")).content.decode()
    assert 'data-seconds-left="600"' in page
    assert client.get(reverse("accounts:session_status")).json()["remaining"] == 600


def test_an_htmx_request_on_an_idle_session_sends_the_whole_page_to_sign_in(
    clock: time_machine.Traveller, alice: Client
) -> None:
    clock.shift(dt.timedelta(minutes=16))
    response = alice.get(reverse("home"), HTTP_HX_REQUEST="true")
    assert response["HX-Redirect"].startswith(reverse("account_login"))
