"""Foreign objects for the access matrix: rows owned by a patient no persona may act for.

`Victim` holds that patient (Quinn Zzyzx) and builds, once each, the rows URLs name.
Rows are filled in by `build`, a small model filler: every required field gets a value
of its type, a foreign key to a patient or a user gets the victim, and any other
foreign key gets a row built the same way. So a new model needs no factory code: name
its kind in `matrix.KINDS`. Text fields carry `MARKER`, so a page that shows the victim's
rows to someone else gives itself away.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import models
from django.utils import timezone
from django.utils.text import slugify

from portal.accounts.models import User
from portal.organization.models import Campus, CareTeam, Practitioner
from portal.patients.models import CareRelationship, Patient, ProxyGrant, Scope
from portal.test import World, make_patient, make_user

# In the victim's name and every text field the filler writes: it must never reach anyone
# who may not act for the victim.
MARKER = "Zzyzx"
VICTIM_CLINIC_NUMBER = "19999999"
_serial = itertools.count(1)


@dataclass
class Victim:
    """The patient whose rows every persona asks for, and the rows built so far."""

    world: World  # the shared world with the victim in Alice's place (for the apps' test helpers)
    patient: Patient
    user: User
    built: dict[str, models.Model] = field(default_factory=dict)

    def row(self, kind: str, make: Callable[[Victim], models.Model]) -> models.Model:
        if kind not in self.built:
            self.built[kind] = make(self)
        return self.built[kind]


def make_victim(world: World) -> Victim:
    """Quinn Zzyzx: a patient with a sign-in, cared for by Carol, nobody's proxy target."""
    user = make_user("quinn", first_name="Quinn", last_name=MARKER)
    patient = make_patient(VICTIM_CLINIC_NUMBER, "Quinn", MARKER, world.campus, account=user)
    CareRelationship.objects.create(
        patient=patient,
        care_team=world.care_team,
        practitioner=world.clinician.practitioner,
        starts_on=dt.date(2020, 1, 1),
    )
    their_world = dataclasses.replace(world, alice=patient, alice_user=user)
    return Victim(world=their_world, patient=patient, user=user)


def proxy_for_victim(victim: Victim, username: str, scopes: list[str]) -> User:
    """A user holding a live grant to the victim with exactly `scopes`."""
    user = make_user(username)
    ProxyGrant.objects.create(
        grantee=user,
        patient=victim.patient,
        relationship=ProxyGrant.Relationship.CAREGIVER,
        scopes=scopes,
        starts_at=timezone.now() - dt.timedelta(days=1),
    )
    return user


def all_scopes() -> list[str]:
    return [str(scope) for scope in Scope]


def build(model: type[models.Model], victim: Victim, **given: Any) -> models.Model:
    """A saved row of `model` owned by the victim, with every required field filled in."""
    values: dict[str, Any] = {}
    for model_field in model._meta.concrete_fields:
        if model_field.name in given or not _required(model_field):
            continue
        values[model_field.name] = _value(model_field, victim)
    return model._default_manager.create(**values, **given)


def _required(model_field: models.Field[Any, Any]) -> bool:
    if model_field.primary_key or model_field.has_default() or model_field.null:
        return False
    if getattr(model_field, "auto_now", False) or getattr(model_field, "auto_now_add", False):
        return False
    # A blank-able text field saves as "" on its own; a blank-able relation still needs a row.
    return model_field.is_relation or not model_field.blank


_BY_TYPE: list[tuple[type[models.Field[Any, Any]], Callable[[], Any]]] = [
    (models.BooleanField, lambda: False),
    (models.DateTimeField, timezone.now),  # before DateField: it is a subclass
    (models.DateField, timezone.localdate),
    (models.TimeField, lambda: dt.time(9)),
    (models.DurationField, lambda: dt.timedelta(minutes=30)),
    (models.DecimalField, lambda: Decimal("1")),
    (models.FloatField, lambda: 1.0),
    (models.IntegerField, lambda: 1),
    (models.UUIDField, uuid.uuid4),
    (models.BinaryField, lambda: b"matrix"),
    (models.JSONField, dict),
    (models.GenericIPAddressField, lambda: "127.0.0.1"),
    (models.EmailField, lambda: f"matrix{next(_serial)}@example.org"),
    (models.URLField, lambda: "https://example.org/"),
    (models.FileField, lambda: f"matrix/{next(_serial)}.pdf"),
]


# Fields that must come after their partner (constraints check "ends after starts").
_LATER = {"ends", "ends_at", "ends_on", "valid_until", "expires_at", "due_on", "period_end", "closes"}


def _value(model_field: models.Field[Any, Any], victim: Victim) -> Any:
    if model_field.name in _LATER:
        return _later(model_field)
    if model_field.name.endswith("time_zone"):
        return "UTC"
    if model_field.is_relation:
        return _related(model_field.related_model, victim)  # type: ignore[arg-type]
    if model_field.choices:
        return model_field.choices[0][0]
    for field_type, make in _BY_TYPE:
        if isinstance(model_field, field_type):
            return make()
    if isinstance(model_field, models.SlugField):
        return slugify(f"matrix-{model_field.name}-{next(_serial)}")
    # Only the victim's own rows carry the marker: a catalogue row (a department, a price)
    # that a page shows to everyone is not a leak.
    owner = MARKER if _patient_owned(model_field.model) else "Matrix"
    text = f"{owner} {model_field.name} {next(_serial)}"
    return text[: model_field.max_length] if model_field.max_length else text


def _later(model_field: models.Field[Any, Any]) -> Any:
    if isinstance(model_field, models.DateTimeField):
        return timezone.now() + dt.timedelta(days=1)
    if isinstance(model_field, models.DateField):
        return timezone.localdate() + dt.timedelta(days=30)
    return dt.time(17)


def _patient_owned(model: Any) -> bool:
    from portal.security_tests.matrix import patient_owned_models

    return any(model is owned for owned, _lookup in patient_owned_models())


def _related(model: type[models.Model], victim: Victim) -> models.Model:
    world = victim.world
    known: dict[type[models.Model], models.Model] = {
        Patient: victim.patient,
        User: victim.user,
        Campus: world.campus,
        CareTeam: world.care_team,
        Practitioner: world.clinician.practitioner,
    }
    if model in known:
        return known[model]
    return victim.row(model._meta.label_lower, lambda v: build(model, v))
