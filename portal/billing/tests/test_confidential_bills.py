"""A parent paying a teenager's bills sees what is owed, never what a confidential service was."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from portal.billing import ledger, statements
from portal.billing.models import Claim, PriceItem
from portal.billing.overview import statement_visits
from portal.billing.pdf import statement_pdf
from portal.billing.tests.overview_support import pdf_text
from portal.billing.tests.support import access_for, bill, billing_world
from portal.patients.models import ProxyGrant, Scope
from portal.patients.selection import SESSION_KEY
from portal.records.tests.test_release_rules import adolescent
from portal.test import World

pytestmark = pytest.mark.django_db

SECRET = "Chlamydia trachomatis NAAT"


@pytest.fixture
def family(world: World):
    billing_world(world)
    teen, tess, parent = adolescent(world)
    ProxyGrant.objects.filter(grantee=parent, patient=teen).update(scopes=[Scope.VIEW, Scope.BILLING])
    return teen, tess, parent


def signed_in_for(user, patient) -> Client:
    client = Client()
    client.force_login(user)
    session = client.session
    session[SESSION_KEY] = patient.pk
    session.save()
    return client


def billed(teen):
    bill(teen, 80_00, code="99213", description="Office visit")
    line = bill(teen, 150_00, code="87491", description=SECRET, sensitivity="sexual-health")
    claim = Claim.objects.create(
        account=ledger.account_for(teen),
        number="C-1",
        payer_name="Acme Health",
        service_date=line.service_date,
        submitted_on=line.service_date,
        billed_cents=150_00,
    )
    line.claim = claim
    line.save(update_fields=["claim"])
    return statements.issue_statement(ledger.account_for(teen))


def test_the_parent_sees_the_amount_but_not_the_service(family) -> None:
    teen, _tess, parent = family
    statement = billed(teen)
    client = signed_in_for(parent, teen)
    for url in (
        reverse("billing:statement", args=[statement.pk]),
        reverse("billing:transactions"),
        reverse("billing:overview"),
        reverse("billing:claims"),
    ):
        page = client.get(url)
        assert page.status_code == 200, url
        text = page.content.decode()
        assert SECRET not in text and "87491" not in text, url
    statement_page = client.get(reverse("billing:statement", args=[statement.pk])).content.decode()
    assert "Confidential service" in statement_page
    assert "$230.00" in statement_page  # the total still adds up
    pdf = client.get(reverse("billing:statement_pdf", args=[statement.pk]))
    assert SECRET not in pdf_text(pdf.content)


def test_the_teenager_sees_their_own_services(family) -> None:
    teen, tess, _parent = family
    statement = billed(teen)
    page = signed_in_for(tess, teen).get(reverse("billing:statement", args=[statement.pk])).content.decode()
    assert SECRET in page and "87491" in page
    visits = statement_visits(statement, access_for(tess, teen))
    assert SECRET in pdf_text(statement_pdf(statement, visits))


def test_the_price_list_marks_a_service_confidential(family) -> None:
    teen, _tess, parent = family
    PriceItem.objects.create(
        code="87491",
        description=SECRET,
        price_cents=150_00,
        self_pay_price_cents=90_00,
        sensitivity="sexual-health",
    )
    line = bill(teen, 150_00, code="87491", description=SECRET)
    assert line.sensitivity == "sexual-health"
    assert line.entries.get(kind="charge").sensitivity == "sexual-health"
    text = signed_in_for(parent, teen).get(reverse("billing:transactions")).content.decode()
    assert SECRET not in text


def test_the_parent_does_not_see_a_confidential_service_on_the_teenagers_estimate(family) -> None:
    from portal.billing import estimates as pricing
    from portal.billing.models import Estimate

    teen, tess, parent = family
    item = PriceItem.objects.create(
        code="87491",
        description=SECRET,
        price_cents=150_00,
        self_pay_price_cents=90_00,
        sensitivity="sexual-health",
    )
    from portal.audit.actor import Actor

    breakdown = pricing.estimate_for(teen, [item], self_pay=True)
    saved = pricing.do_save_estimate(Actor.system(), access_for(tess, teen), breakdown)
    assert Estimate.objects.get().items[0]["sensitivity"] == "sexual-health"
    parent_page = (
        signed_in_for(parent, teen).get(reverse("billing:estimate", args=[saved.pk])).content.decode()
    )
    assert SECRET not in parent_page and "87491" not in parent_page
    assert "Confidential service" in parent_page and "$90.00" in parent_page
    teen_page = signed_in_for(tess, teen).get(reverse("billing:estimate", args=[saved.pk])).content.decode()
    assert SECRET in teen_page
