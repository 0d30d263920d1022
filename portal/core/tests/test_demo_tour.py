"""The demo's tour on the sign-in page: which demo sign-ins exist and what to try with
each. Shown only with PORTAL_DEMO (which `portal demo` turns on for its server), every
link leads somewhere its person may go, and production refuses the setting."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client, override_settings
from django.urls import reverse

from portal.accounts.models import User
from portal.core.management.commands import demo
from portal.core.tests.test_production_settings import GOOD_KEY, _run
from portal.lib.seeding.billing_prices import seed_price_list
from portal.lib.seeding.demo_users import FAMILY_TEAM, SIGN_INS, create_demo_users
from portal.lib.seeding.evisit_conditions import seed_evisit_conditions
from portal.lib.seeding.organization import seed_organization
from portal.organization.models import CareTeam

pytestmark = pytest.mark.django_db

TOUR_TITLE = "Try the demo"
PERSON = re.compile(r'<details class="demo-tour-person".*?<code>(demo-[a-z]+)</code>(.*?)</details>', re.S)
LINK = re.compile(r'href="([^"]+)"')


def sign_in_page(client: Client) -> str:
    response = client.get(reverse("account_login"))
    assert response.status_code == 200
    return response.content.decode()


@override_settings(PORTAL_DEMO=True)
def test_the_demo_shows_every_sign_in_the_password_and_what_to_try(client: Client) -> None:
    page = sign_in_page(client)
    assert TOUR_TITLE in page
    assert f"<code>{settings.DEMO_PASSWORD}</code>" in page
    people = dict(PERSON.findall(page))
    assert sorted(people) == sorted(sign_in.username for sign_in in SIGN_INS)
    for path in (
        reverse("booking:start"),
        reverse("records:results"),
        reverse("messaging:new"),
        reverse("billing:overview"),
        reverse("appointments:list"),
    ):
        assert f'href="{path}"' in people["demo-patient"]
    assert f'href="{reverse("inbox:queue")}"' in people["demo-clinician"]
    assert f'href="{reverse("desk:home")}"' in people["demo-scheduler"]
    assert f'href="{reverse("staff_billing:home")}"' in people["demo-billing"]
    assert f'href="{reverse("admin:index")}"' in people["demo-admin"]
    # No inline script or style: the Content Security Policy would block it.
    assert "<script>" not in page and "style=" not in page


def test_outside_the_demo_the_sign_in_page_has_no_tour_and_no_password(client: Client) -> None:
    assert not settings.PORTAL_DEMO
    page = sign_in_page(client)
    assert TOUR_TITLE not in page
    assert settings.DEMO_PASSWORD not in page
    assert "demo-patient" not in page


@override_settings(PORTAL_DEMO=True)
def test_every_link_in_the_tour_opens_for_the_person_it_is_written_for(client: Client) -> None:
    seed_organization()
    create_demo_users()
    # As `portal demo` does: demo-clinician's team reviews the e-visits.
    seed_price_list()
    seed_evisit_conditions(CareTeam.objects.get(slug=FAMILY_TEAM))
    people = PERSON.findall(sign_in_page(client))
    for username, section in people:
        signed_in = Client()
        signed_in.force_login(User.objects.get(username=username))
        for path in LINK.findall(section):
            # A desk with one campus goes straight to that campus's queue: follow it.
            response = signed_in.get(path.replace("&amp;", "&"), follow=True)
            assert response.status_code == 200, (username, path, response.status_code)
            assert "/accounts/login/" not in response.request["PATH_INFO"], (username, path)


@override_settings(PORTAL_DEMO=True)
def test_a_signed_in_page_does_not_show_the_tour(client: Client, django_user_model: Any) -> None:
    user = django_user_model.objects.create_user(username="someone", password="unused-password-1")
    client.force_login(user)
    response = client.get(reverse("account_login"), follow=True)
    assert TOUR_TITLE not in response.content.decode()


def test_portal_demo_turns_the_tour_on_for_the_server_it_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[dict[str, str]] = []

    def fake_popen(command: list[str], env: dict[str, str]) -> object:
        started.append(env)
        return object()

    monkeypatch.setattr(subprocess, "Popen", fake_popen)
    demo._start("runserver", "127.0.0.1:8000", "--noreload")
    assert started[0]["PORTAL_DEMO"] == "1"


def test_production_refuses_the_demo_tour(tmp_path: Path) -> None:
    result = _run(tmp_path, "check", SECRET_KEY=GOOD_KEY, PORTAL_DEMO="1")
    assert result.returncode != 0
    assert "PORTAL_DEMO shows the demo sign-ins" in result.stderr
