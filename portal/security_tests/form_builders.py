"""What a form's constructor needs, so the hostile-form sweep can build every form class directly.

Many forms take the choices their view narrows them to (the campuses a scheduler works at,
the cards a payer saved, a payment to refund) as keyword arguments. `form_arguments` makes
one small row of each kind for Alice and maps each constructor argument's name to it;
`construct` passes a form the arguments its constructors name. A form that wants an
argument nobody provides is not built (None), and the sweep fails on it unless listed.
"""

from __future__ import annotations

import datetime as dt
import inspect
from typing import Any

from django import forms
from django.http import HttpRequest, QueryDict
from django.test import RequestFactory
from django.utils import timezone

from portal.billing import ledger
from portal.billing.disputes import Comparison
from portal.billing.models import Estimate
from portal.billing.tests.plans_support import saved_card
from portal.billing.tests.staff_support import coverage_for
from portal.billing.tests.support import bill, pay
from portal.messaging.tests.support import make_pharmacy
from portal.organization.models import Campus, CareTeam, Practitioner
from portal.patients.access import decide
from portal.patients.actions import communication_preference
from portal.records.tests.support import make_medication
from portal.scheduling.models import Questionnaire, Slot, VisitType
from portal.scheduling.questionnaires import layout_of
from portal.scheduling.tests.support import local_moment, make_slot, scheduling_world
from portal.scheduling.tests.test_questionnaires import ITEMS  # one question of every kind
from portal.telehealth.tests.support import video_appointment
from portal.test import World

# What every form takes (the sweep passes the data itself), not something a view chooses.
EVERY_FORMS_OWN = {"self", "data", "files"}


def signed_in_request(world: World) -> HttpRequest:
    request = RequestFactory().post("/")
    request.user = world.alice_user
    request.session = {}  # type: ignore[assignment]
    return request


def form_arguments(world: World) -> dict[str, Any]:
    """Each constructor argument's name, and a value for it: Alice's, or the clinic's rows."""
    sw = scheduling_world(world)
    make_slot(sw, local_moment(world.campus, 3, 10))
    appointment = video_appointment(sw, world.alice, starts_in=dt.timedelta(days=2))
    account = ledger.account_for(world.alice)
    bill(world.alice, 100_00)
    card = saved_card(world.alice_user)
    estimate = Estimate.objects.create(
        account=account,
        kind=Estimate.Kind.GOOD_FAITH,
        number="GFE-HOSTILE-1",
        total_cents=240_00,
        patient_cents=240_00,
        valid_until=timezone.localdate() + dt.timedelta(days=30),
    )
    return {
        # Who is acting, and for whom.
        "access": decide(world.alice_user, world.alice),
        "user": world.alice_user,
        "actor": world.alice_user,
        "patient": world.alice,
        "request": signed_in_request(world),
        "waits": set(),
        "current": "",
        "preference": communication_preference(world.alice),
        "prescribes": True,  # the e-visit reply with its prescription and referral fields
        # Staff pages: the campuses, teams, people and times a view offers.
        "campus": world.campus,
        "campuses": Campus.objects.all(),
        "clinicians": Practitioner.objects.all(),
        "members": [world.clinician, world.scheduler],
        "pools": CareTeam.objects.all(),
        "care_teams": list(CareTeam.objects.all()),
        "visit_types": VisitType.objects.all(),
        "slots": Slot.objects.all(),
        "appointment": appointment,
        "appointments": [appointment],
        # Billing: the account, a payment to refund, a saved card, a coverage, an estimate.
        "account": account,
        "payment": pay(world.alice_user, world.alice, 40_00),
        "balance_cents": 60_00,
        "saved_cards": [card],
        "cards": [card],
        "on_file": [coverage_for(world.alice)],
        "comparisons": [Comparison(estimate, billed_cents=800_00, estimated_cents=240_00)],
        # Refills: a medication and a saved pharmacy.
        "medications": [make_medication(world.alice)],
        "states": {},
        "pharmacies": [make_pharmacy(world)],
        # Pre-check-in: a questionnaire with one question of every kind the portal asks.
        "layout": layout_of(Questionnaire(slug="hostile", items=ITEMS)),
    }


def _is_named(parameter: inspect.Parameter) -> bool:
    return parameter.name not in EVERY_FORMS_OWN and parameter.kind not in (
        parameter.VAR_POSITIONAL,
        parameter.VAR_KEYWORD,
    )


def keywords_for(form_class: type[forms.BaseForm], arguments: dict[str, Any]) -> dict[str, Any] | None:
    """The keywords to build `form_class` with, or None if it requires one nobody provides.

    Optional ones named anywhere in its constructors are passed too: allauth's password
    change form takes `user` in a base class, behind the subclass's **kwargs.
    """
    wanted: dict[str, Any] = {}
    for parameter in inspect.signature(form_class.__init__).parameters.values():
        if _is_named(parameter) and parameter.default is parameter.empty:
            if parameter.name not in arguments:
                return None
            wanted[parameter.name] = arguments[parameter.name]
    for klass in form_class.__mro__:
        init = vars(klass).get("__init__")
        if init is None or klass in (forms.BaseForm, forms.BaseModelForm, object):
            continue
        for parameter in inspect.signature(init).parameters.values():
            if _is_named(parameter) and parameter.name in arguments:
                wanted.setdefault(parameter.name, arguments[parameter.name])
    return wanted


def construct(
    form_class: type[forms.BaseForm], data: QueryDict, arguments: dict[str, Any]
) -> forms.BaseForm | None:
    """The form bound to `data`, built with what its constructor needs (None if that is unknown)."""
    wanted = keywords_for(form_class, arguments)
    if wanted is None:
        return None
    # allauth's passkey forms take only **kwargs and pop what they need: the KeyError names it.
    while True:
        try:
            # data by name: allauth's forms take `user` as their first positional argument.
            return form_class(data=data, **wanted)
        except KeyError as missing:
            name = missing.args[0] if missing.args else None
            if not isinstance(name, str) or name not in arguments or name in wanted:
                raise
            wanted[name] = arguments[name]
