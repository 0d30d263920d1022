"""The simulated patients: drawn from the benchmark database, signed in before the run.

Each simulated patient gets a session minted on the server side (`Client.force_login`
runs Django's `login()`, so the portal's sign-in signal stamps the session and audits the
sign-in, exactly as a password sign-in would, minus the password hash and the two-factor
step). Argon2 at production cost takes tens of milliseconds of CPU per sign-in; minting
the sessions up front keeps the run about browsing, the way real patients' traffic is.
A few patients also get a known password, for the fresh sign-ins the mix includes.
"""

from __future__ import annotations

import random

from allauth.account.models import EmailAddress
from django.conf import settings
from django.db.models import Exists, OuterRef
from django.test import Client

from benchmarks.load.generator import SIGN_IN_PASSWORD, SimulatedPatient
from portal.messaging.models import Thread
from portal.patients.models import Patient
from portal.records.models import ResultReport


def candidates() -> list[int]:
    """Patients with a sign-in, a message thread and a result: every page has something to show."""
    return list(
        Patient.objects.filter(account__isnull=False, account__is_active=True)
        .filter(Exists(Thread.objects.filter(patient=OuterRef("pk"))))
        .filter(Exists(ResultReport.objects.filter(patient=OuterRef("pk"))))
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def prepare(
    count: int, sign_in_count: int, seed: int = 10, *, distinct: bool = True
) -> list[SimulatedPatient]:
    """Draw `count` patients (the same ones for the same seed), give the first
    `sign_in_count` of them the load test's password, and mint a session for each.
    Without `distinct` (a small test database) a patient may be drawn more than once:
    each drawing is a separate browser with its own session."""
    pool = candidates()
    rng = random.Random(seed)
    if distinct and len(pool) < count:
        raise SystemExit(f"only {len(pool)} patients have a sign-in, a thread and a result; need {count}")
    if not pool:
        raise SystemExit("no patient has a sign-in, a thread and a result")
    chosen = rng.sample(pool, count) if len(pool) >= count else rng.choices(pool, k=count)
    patients = {p.pk: p for p in Patient.objects.filter(pk__in=chosen).select_related("account")}
    # Passwords first, once a patient: a new password hash would sign out the sessions
    # already minted for them (Django ties a session to the hash).
    for pk in dict.fromkeys(chosen[:sign_in_count]):
        user = patients[pk].account
        assert user is not None
        # Sign-in requires a verified address (ACCOUNT_EMAIL_VERIFICATION = mandatory);
        # generated patients often have none.
        user.email = user.email or f"{user.username}@load-test.invalid"
        user.set_password(SIGN_IN_PASSWORD)
        user.save(update_fields=["password", "email"])
        EmailAddress.objects.update_or_create(
            user=user, email=user.email, defaults={"verified": True, "primary": True}
        )
    drawn: list[SimulatedPatient] = []
    for index, pk in enumerate(chosen):
        user = patients[pk].account
        assert user is not None
        client = Client()
        client.force_login(user)
        cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
        drawn.append(SimulatedPatient(user.username, cookie, can_sign_in=index < sign_in_count))
    return drawn
