"""The installable app's server side: manifest, icons, service worker, offline page, sign-out."""

from __future__ import annotations

import io
import json
import re

import pytest
from django.contrib.staticfiles import finders
from django.test import Client, override_settings
from django.urls import reverse
from PIL import Image

from portal.core import pwa
from portal.core.pwa import SHELL_HEADER
from portal.records.tests.support import make_panel
from portal.test import World


def test_the_manifest_has_what_an_install_needs(client: Client) -> None:
    response = client.get("/manifest.webmanifest")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/manifest+json"
    manifest = json.loads(response.content)
    assert manifest["name"] and manifest["short_name"]
    assert manifest["start_url"] == "/" and manifest["scope"] == "/"
    assert manifest["display"] == "standalone"
    assert manifest["theme_color"] == "#0a4f8a" and manifest["background_color"] == "#f3f6f9"
    purposes = {(icon["sizes"], icon["purpose"]) for icon in manifest["icons"]}
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable"), ("any", "any")} <= purposes


def test_the_theme_colours_are_the_stylesheets() -> None:
    path = finders.find("css/portal.css")
    assert isinstance(path, str)
    with open(path, encoding="utf-8") as handle:
        css = handle.read()
    assert f"--brand: {pwa.THEME_COLOUR};" in css
    assert f"--wash: {pwa.BACKGROUND_COLOUR};" in css


def test_every_icon_is_served_at_its_stated_size(client: Client) -> None:
    for icon in pwa.manifest_data()["icons"]:
        response = client.get(icon["src"])
        assert response.status_code == 200, icon
        body = b"".join(response.streaming_content)  # type: ignore[attr-defined]
        if icon["type"] == "image/svg+xml":
            assert body.startswith(b"<svg") and b"viewBox" in body
            continue
        image = Image.open(io.BytesIO(body))
        assert image.format == "PNG"
        assert f"{image.width}x{image.height}" == icon["sizes"], icon
        if icon["purpose"] == "maskable":
            # A maskable icon fills its square: no transparent corner for a mask to show.
            corner = image.convert("RGBA").getpixel((0, 0))
            assert isinstance(corner, tuple) and corner[3] == 255


def test_the_service_worker_is_served_for_the_whole_site(client: Client) -> None:
    response = client.get("/service-worker.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert response["Service-Worker-Allowed"] == "/"
    assert response["Cache-Control"] == "no-cache"
    assert "script-src 'self'" in response["Content-Security-Policy"]
    source = response.content.decode()
    config = json.loads(re.search(r"^var CONFIG = (\{.*\});$", source, re.MULTILINE).group(1))  # type: ignore[union-attr]
    assert config["version"] == pwa.shell_version()
    assert config["offlineUrl"] == "/offline/"
    assert "/static/js/pwa.js" in config["staticUrls"]
    assert any("htmx" in url for url in config["staticUrls"])
    # Only the shell: no page of the portal is listed to be kept.
    assert all(url.startswith("/static/") for url in config["staticUrls"])


def test_the_worker_version_follows_the_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    before = pwa.shell_version()
    pwa.shell_version.cache_clear()
    monkeypatch.setattr(pwa, "_static_bytes", lambda name: b"changed " + name.encode())
    try:
        assert pwa.shell_version() != before
    finally:
        pwa.shell_version.cache_clear()


@pytest.mark.django_db
def test_the_workers_copy_of_the_offline_page_is_the_same_for_everyone(client: Client, world: World) -> None:
    shell = {SHELL_HEADER: "1"}
    anonymous = client.get("/offline/", headers=shell)
    client.force_login(world.alice_user)
    signed_in = client.get("/offline/", headers=shell)
    for response in (anonymous, signed_in):
        page = response.content.decode()
        assert response.status_code == 200
        assert response["Cache-Control"] == "no-cache"
        assert "<h1>You are offline</h1>" in page
        assert "What still works" in page
        assert 'data-state="offline"' in page
        assert "Alice" not in page and "Sign out" not in page
        assert "<script>" not in page


@pytest.mark.django_db
def test_the_offline_page_opened_online_says_who_is_signed_in(client: Client, world: World) -> None:
    """So a signed-out visitor's browser deletes a saved summary rather than showing it."""
    assert 'data-state="signed-out"' in client.get("/offline/").content.decode()
    client.force_login(world.alice_user)
    page = client.get("/offline/").content.decode()
    assert 'data-state="signed-in"' in page
    assert 'data-cache="portal-health-summary-' in page


@pytest.mark.django_db
def test_the_offline_page_never_draws_or_uses_up_a_flash_message(client: Client, world: World) -> None:
    client.force_login(world.alice_user)
    client.post(reverse("switch_patient"), {"patient": str(world.alice.pk)})
    assert "viewing" not in client.get("/offline/", headers={SHELL_HEADER: "1"}).content.decode()
    assert "viewing" in client.get("/").content.decode()


@pytest.mark.django_db
def test_the_offline_page_is_translated(client: Client) -> None:
    page = client.get("/offline/", headers={"accept-language": "es"}).content.decode()
    assert 'lang="es"' in page
    assert "What still works" not in page


@pytest.mark.django_db
def test_pages_link_the_manifest_and_say_whose_they_are(client: Client, world: World) -> None:
    page = client.get(reverse("account_login")).content.decode()
    assert '<link rel="manifest" href="/manifest.webmanifest">' in page
    assert '<meta name="theme-color" content="#0a4f8a">' in page
    assert 'rel="apple-touch-icon"' in page
    assert 'data-state="signed-out"' in page and 'data-cache=""' in page
    client.force_login(world.alice_user)
    page = client.get(reverse("home")).content.decode()
    assert 'data-state="signed-in"' in page
    assert f'data-cache="{pwa.health_cache_name(world.alice_user)}"' in page


@pytest.mark.django_db
def test_each_user_has_their_own_cache_name(world: World) -> None:
    alice = pwa.health_cache_name(world.alice_user)
    bob = pwa.health_cache_name(world.bob_user)
    assert alice != bob
    assert alice.startswith(pwa.HEALTH_CACHE_PREFIX) and str(world.alice_user.pk) not in alice.removeprefix(
        pwa.HEALTH_CACHE_PREFIX
    )


@pytest.mark.django_db
def test_the_printable_record_offers_a_copy_and_is_not_stored(client: Client, world: World) -> None:
    make_panel(world.alice)
    client.force_login(world.alice_user)
    response = client.get(reverse("record_export:print") + "?sections=results")
    page = response.content.decode()
    assert "no-store" in response["Cache-Control"]
    assert "Keep a copy on this device for offline use" in page
    assert "data-offline-summary" in page


@pytest.mark.django_db
def test_signing_out_clears_what_the_site_stored(client: Client, world: World) -> None:
    client.force_login(world.alice_user)
    response = client.post(reverse("account_logout"))
    assert response.status_code == 302
    assert response["Clear-Site-Data"] == '"cache", "storage"'
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
@override_settings(PORTAL_REQUIRE_MFA=True)
def test_the_app_files_load_before_two_factor_enrolment(client: Client, world: World) -> None:
    client.force_login(world.alice_user)
    assert client.get(reverse("home")).status_code == 302  # everything else waits for enrolment
    for url in ("/manifest.webmanifest", "/service-worker.js", "/offline/"):
        assert client.get(url).status_code == 200, url
