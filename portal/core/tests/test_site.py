from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from portal.test import World


def test_healthz_answers_without_a_database(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_checks_the_database(client: Client) -> None:
    assert client.get("/readyz").status_code == 200


@pytest.mark.django_db
def test_pages_carry_security_headers(client: Client, world: World) -> None:
    client.force_login(world.alice_user)
    response = client.get(reverse("home"))
    assert "no-store" in response["Cache-Control"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    csp = response["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp


@pytest.mark.django_db
def test_the_sign_in_page_has_the_contract_labels(client: Client) -> None:
    page = client.get(reverse("account_login")).content.decode()
    assert '<label for="id_login">Username</label>' in page
    assert '<label for="id_password">Password</label>' in page
    assert ">Sign in</button>" in page


@pytest.mark.django_db
def test_pages_carry_no_inline_script(client: Client, world: World) -> None:
    client.force_login(world.alice_user)
    for url in [reverse("home"), reverse("notifications:list"), reverse("audit:access_log")]:
        page = client.get(url).content.decode()
        assert "<script>" not in page
        assert " on" + "click=" not in page


@pytest.mark.django_db
def test_missing_pages_use_the_site_error_page(client: Client) -> None:
    response = client.get("/no-such-page/")
    assert response.status_code == 404


@pytest.mark.django_db
def test_spanish_is_available(client: Client) -> None:
    response = client.post(reverse("set_language"), {"language": "es", "next": "/accounts/login/"})
    assert response.status_code == 302
    page = client.get(reverse("account_login"), HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert 'lang="es"' in page


@pytest.mark.django_db
def test_a_stale_form_gets_a_plain_explanation(world: World) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.alice_user)
    response = client.post(reverse("switch_patient"), {"patient": world.alice.pk})
    assert response.status_code == 403
    assert "Your form expired" in response.content.decode()


@pytest.mark.django_db
def test_the_admin_has_no_patient_data(client: Client, world: World) -> None:
    client.force_login(world.admin)
    page = client.get("/admin/").content.decode()
    assert "Campuses" in page
    assert "/admin/patients/" not in page
