"""The health record in the browser: summary, a result, its trend; and a parent who may not see
an adolescent's confidential care. Every page is checked with axe at desktop and phone width."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from portal.browser_tests.conftest import LogIn, check_page
from portal.patients.models import CareRelationship, ProxyGrant, Scope
from portal.records.tests.support import days_ago, make_medication, make_panel, make_problem
from portal.test import World, make_patient, make_user

pytestmark = pytest.mark.browser


def test_a_patient_reads_a_result_and_its_trend(page: Page, world: World, log_in: LogIn) -> None:
    for days, value in ((400, "4.0"), (200, "4.6")):
        make_panel(
            world.alice,
            when=days_ago(days),
            values=[("2823-3", "Potassium", value, "mmol/L", "3.5", "5.1")],
        )
    report = make_panel(world.alice)  # potassium 5.4, high
    make_problem(world.alice)
    make_medication(world.alice)
    log_in(world.alice_user)
    page.goto("/")
    expect(page.get_by_role("region", name="Test results")).to_contain_text(
        "3 new results you have not opened yet."
    )
    check_page(page)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Health record").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Health summary")
    expect(page.get_by_text("Essential hypertension")).to_be_visible()
    check_page(page)

    page.get_by_role("region", name="Latest test results").get_by_role(
        "link", name="Basic metabolic panel"
    ).first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Basic metabolic panel")
    potassium = page.get_by_role("listitem").filter(has=page.get_by_role("heading", name="Potassium"))
    expect(potassium).to_contain_text("3.5 - 5.1 mmol/L")
    expect(potassium).to_contain_text("High")
    expect(potassium.get_by_role("link", name=re.compile("^This looks wrong"))).to_be_visible()
    check_page(page)
    assert page.url.endswith(f"/record/results/{report.pk}/")

    potassium.get_by_role("link", name=re.compile("^See all past values")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Potassium: past values")
    chart = page.get_by_role("img", name=re.compile(r"^Potassium: 3 values from"))
    expect(chart).to_be_visible()
    rows = page.get_by_role("region", name="Every value, newest first").get_by_role("row")
    expect(rows).to_have_count(4)  # a header row and three values
    expect(rows.nth(1)).to_contain_text("5.4 mmol/L")
    expect(rows.nth(1)).to_contain_text("High")
    check_page(page)


def test_a_parent_does_not_see_a_teenagers_confidential_results(
    page: Page, world: World, log_in: LogIn
) -> None:
    teen_user = make_user("tess", first_name="Tess", last_name="Able")
    teen = make_patient("10000015", "Tess", "Able", world.campus, account=teen_user)
    teen.birth_date = dt.date(timezone.localdate().year - 15, 1, 1)
    teen.save(update_fields=["birth_date"])
    CareRelationship.objects.create(patient=teen, care_team=world.care_team, starts_on=dt.date(2020, 1, 1))
    parent = make_user("paula", first_name="Paula", last_name="Able")
    ProxyGrant.objects.create(
        grantee=parent,
        patient=teen,
        relationship=ProxyGrant.Relationship.PARENT,
        scopes=[Scope.VIEW],
        starts_at=timezone.now() - dt.timedelta(days=30),
    )
    make_panel(teen, "Everyday panel")
    secret = make_panel(
        teen,
        "Sexual health screen",
        values=[("6357-8", "Chlamydia test", "1", "", "0", "0")],
        sensitivity="sexual-health",
    )
    make_problem(teen, "Anxiety", sensitivity="mental-health")

    log_in(parent)
    page.goto("/record/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Health summary")
    expect(page.get_by_role("region", name="Whose account you are viewing")).to_contain_text("Tess Able")
    expect(page.get_by_text("Everyday panel")).to_be_visible()
    expect(page.get_by_text("Sexual health screen")).to_have_count(0)
    expect(page.get_by_text("Anxiety")).to_have_count(0)
    check_page(page)
    page.get_by_role("link", name="See all test results").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Test results")
    expect(page.get_by_text("Sexual health screen")).to_have_count(0)
    check_page(page)
    response = page.goto(f"/record/results/{secret.pk}/")
    assert response is not None and response.status == 404
    response = page.goto("/record/results/trend/6357-8/")
    assert response is not None and response.status == 404

    # Tess herself sees her whole record.
    log_in(teen_user)
    page.goto("/record/results/")
    expect(page.get_by_role("link", name="Sexual health screen", exact=True)).to_be_visible()
    check_page(page)
