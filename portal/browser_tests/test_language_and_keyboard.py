from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from playwright.sync_api import Page, expect

from portal.browser_tests.conftest import LogIn, check_page
from portal.test import World

pytestmark = pytest.mark.browser


def test_the_language_switcher_switches_to_spanish_and_back(page: Page, world: World, log_in: LogIn) -> None:
    log_in(world.alice_user)
    page.goto("/notifications/")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    check_page(page)
    page.get_by_label("Language").select_option(label="Español")
    page.get_by_role("button", name="Change language").click()

    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.get_by_role("heading", level=1)).to_have_text("Notificaciones")
    expect(page.get_by_role("link", name="Quién vio mi historial")).to_be_visible()
    check_page(page)

    page.get_by_label("Idioma").select_option(label="English")
    page.get_by_role("button", name="Cambiar idioma").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text("Notifications")


def test_the_sign_in_page_in_spanish(page: Page, world: World, live_server: Any) -> None:
    # The switcher itself is tried above; here the visitor arrives with Spanish chosen.
    page.context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": "es", "url": live_server.url}])
    page.goto("/accounts/login/")
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.get_by_role("heading", level=1)).to_have_text("Iniciar sesión")
    expect(page.get_by_label("Nombre de usuario")).to_be_visible()
    expect(page.get_by_label("Contraseña")).to_be_visible()
    expect(page.get_by_role("button", name="Iniciar sesión")).to_be_visible()
    expect(page.get_by_role("link", name="¿Olvidó su contraseña?")).to_be_visible()
    check_page(page)

    page.get_by_label("Nombre de usuario").fill("alice")
    page.get_by_label("Contraseña").fill("not-the-password")
    page.get_by_role("button", name="Iniciar sesión").click()
    expect(page.get_by_role("alert")).to_contain_text("Hay un problema")
    check_page(page)


def test_the_skip_link_is_the_first_stop_and_moves_focus_to_main(
    page: Page, world: World, log_in: LogIn
) -> None:
    log_in(world.alice_user)
    page.goto("/")
    check_page(page)
    page.keyboard.press("Tab")
    skip_link = page.get_by_role("link", name="Skip to main content")
    expect(skip_link).to_be_focused()
    box = skip_link.bounding_box()
    assert box is not None and box["y"] >= 0, "the focused skip link should be on screen"

    page.keyboard.press("Enter")
    expect(page.get_by_role("main")).to_be_focused()
    page.keyboard.press("Tab")
    focused_inside_main = page.evaluate("document.querySelector('main').contains(document.activeElement)")
    assert focused_inside_main, "Tab after the skip link should continue inside the main content"
