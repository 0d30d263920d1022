"""Changing clinicians' schedules: weekly templates, blocks and visit types.

Who may do what lives here too (`rights_of`), so every action checks it again whatever
view calls it: a campus's scheduling desk manages the schedules of clinicians who work
at its campuses, a clinician manages their own blocks, administrators everything.
Each action is one transaction that writes its own `schedules.*` audit event; none of
them concerns a single patient, so the events carry none.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.audit.actor import Actor
from portal.audit.log import Kind, record
from portal.organization.models import Campus, Department, Practitioner
from portal.scheduling import slots
from portal.scheduling.access import desk_campuses
from portal.scheduling.models import (
    Appointment,
    ConsentForm,
    Questionnaire,
    ScheduleBlock,
    ScheduleTemplate,
    Slot,
    VisitType,
)

MAX_BLOCK = dt.timedelta(days=366)
# How far ahead a schedule may be planned: far enough for any rota, near enough that no
# date arithmetic on it can leave the calendar.
PLAN_AHEAD = dt.timedelta(days=5 * 366)


class ScheduleRefused(Exception):
    """A schedule change the rules do not allow; `field` names the form field it is about."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class ScheduleRights:
    """What one member of staff may do with schedules."""

    everything: bool = False
    campus_ids: frozenset[int] = field(default_factory=frozenset)
    own_practitioner_id: int | None = None

    @property
    def is_desk(self) -> bool:
        return self.everything or bool(self.campus_ids)

    @property
    def any(self) -> bool:
        return self.is_desk or self.own_practitioner_id is not None

    def campuses(self) -> QuerySet[Campus]:
        everyone = Campus.objects.filter(is_active=True)
        return everyone if self.everything else everyone.filter(pk__in=self.campus_ids)

    def clinicians(self) -> QuerySet[Practitioner]:
        """The clinicians whose schedules these rights show."""
        clinical = Practitioner.objects.filter(active=True, role__in=Practitioner.CLINICAL_ROLES)
        if self.everything:
            return clinical
        mine = Q(pk=self.own_practitioner_id) if self.own_practitioner_id else Q(pk__in=[])
        at_desk = Q(campuses__in=self.campus_ids) | Q(schedule_templates__campus__in=self.campus_ids)
        ids = clinical.filter(mine | at_desk).values("pk")
        return clinical.filter(pk__in=ids)

    def manages_campus(self, campus_id: int) -> bool:
        return self.everything or campus_id in self.campus_ids

    def manages_templates_of(self, practitioner: Practitioner) -> bool:
        return self.is_desk

    def manages_blocks_of(self, practitioner: Practitioner) -> bool:
        return self.is_desk or practitioner.pk == self.own_practitioner_id


def rights_of(user: Any) -> ScheduleRights:
    """The schedule rights of a signed-in user (none for patients and anonymous visitors)."""
    if not getattr(user, "is_authenticated", False) or not getattr(user, "is_workforce", False):
        return ScheduleRights()
    practitioner = user.practitioner
    own = practitioner.pk if practitioner.is_clinical else None
    if user.is_superuser:
        return ScheduleRights(everything=True, own_practitioner_id=own)
    campus_ids = frozenset(desk_campuses(user).values_list("pk", flat=True))
    return ScheduleRights(campus_ids=campus_ids, own_practitioner_id=own)


def _refuse_unless(allowed: bool) -> None:
    if not allowed:
        raise ScheduleRefused(_("You cannot change this schedule."))


def _lock_clinician(practitioner: Practitioner) -> Practitioner:
    # One writer per clinician at a time, so two desks cannot add overlapping sessions.
    return Practitioner.objects.select_for_update().get(pk=practitioner.pk)


# Templates -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TemplateDraft:
    """A weekly session as the desk entered it."""

    campus: Campus
    department: Department
    weekday: int
    starts: dt.time
    ends: dt.time
    slot_minutes: int
    visit_types: list[VisitType]
    valid_from: dt.date
    valid_until: dt.date | None


def template_problem(practitioner: Practitioner, draft: TemplateDraft) -> ScheduleRefused | None:
    """The first rule a new session breaks, or None."""
    today = timezone.now().astimezone(draft.campus.zone).date()
    session = dt.datetime.combine(today, draft.ends) - dt.datetime.combine(today, draft.starts)
    if draft.ends <= draft.starts:
        return ScheduleRefused(_("The session must end after it starts."), "ends")
    if not 5 <= draft.slot_minutes <= 240:
        return ScheduleRefused(_("A slot lasts between 5 and 240 minutes."), "slot_minutes")
    if dt.timedelta(minutes=draft.slot_minutes) > session:
        return ScheduleRefused(_("The session is shorter than one slot."), "slot_minutes")
    if draft.valid_from < today:
        return ScheduleRefused(_("A new session cannot start in the past."), "valid_from")
    if draft.valid_from > today + PLAN_AHEAD or (
        draft.valid_until and draft.valid_until > today + PLAN_AHEAD
    ):
        return ScheduleRefused(_("Plan at most five years ahead."), "valid_from")
    if draft.valid_until is not None and draft.valid_until < draft.valid_from:
        return ScheduleRefused(_("The last day must not be before the first."), "valid_until")
    if draft.valid_until == draft.valid_from and draft.weekday != draft.valid_from.weekday():
        return ScheduleRefused(_("A one-day session must be on the weekday of its date."), "weekday")
    if not draft.department.campuses.filter(pk=draft.campus.pk).exists():
        return ScheduleRefused(
            _("%(department)s is not offered at %(campus)s.")
            % {"department": draft.department.name, "campus": draft.campus.name},
            "department",
        )
    if not draft.visit_types:
        return ScheduleRefused(_("Choose at least one visit type."), "visit_types")
    for visit_type in draft.visit_types:
        if visit_type.department_id not in (None, draft.department.pk):
            return ScheduleRefused(
                _("%(visit)s belongs to another department.") % {"visit": visit_type.name}, "visit_types"
            )
        if visit_type.duration_minutes > draft.slot_minutes:
            return ScheduleRefused(
                _("%(visit)s takes %(minutes)d minutes, longer than one slot.")
                % {"visit": visit_type.name, "minutes": visit_type.duration_minutes},
                "visit_types",
            )
    clash = _clashing_template(practitioner, draft)
    if clash is not None:
        return ScheduleRefused(
            _("This overlaps the clinician's session on %(weekday)s %(starts)s-%(ends)s at %(campus)s.")
            % {
                "weekday": clash.get_weekday_display(),
                "starts": f"{clash.starts:%H:%M}",
                "ends": f"{clash.ends:%H:%M}",
                "campus": clash.campus.name,
            }
        )
    return None


def _clashing_template(practitioner: Practitioner, draft: TemplateDraft) -> ScheduleTemplate | None:
    """Another session of the clinician, at any campus, on the same weekday, at the same time
    of day, in validity periods that share a day."""
    same_time = ScheduleTemplate.objects.filter(
        practitioner=practitioner, weekday=draft.weekday, starts__lt=draft.ends, ends__gt=draft.starts
    ).exclude(valid_until__lt=draft.valid_from)
    if draft.valid_until is not None:
        same_time = same_time.filter(valid_from__lte=draft.valid_until)
    return same_time.select_related("campus").first()


@transaction.atomic
def do_add_template(
    actor: Actor, rights: ScheduleRights, practitioner: Practitioner, draft: TemplateDraft
) -> tuple[ScheduleTemplate, int]:
    """Add a weekly (or one-day) session and open its slots; returns it and how many slots."""
    _refuse_unless(rights.manages_templates_of(practitioner) and rights.manages_campus(draft.campus.pk))
    practitioner = _lock_clinician(practitioner)
    problem = template_problem(practitioner, draft)
    if problem is not None:
        raise problem
    template = ScheduleTemplate.objects.create(
        practitioner=practitioner,
        campus=draft.campus,
        department=draft.department,
        weekday=draft.weekday,
        starts=draft.starts,
        ends=draft.ends,
        slot_minutes=draft.slot_minutes,
        valid_from=draft.valid_from,
        valid_until=draft.valid_until,
        created_by=actor.user,
    )
    template.visit_types.set(draft.visit_types)
    created = slots.generate_slots([template])
    record(
        actor,
        "schedules.template_add",
        kind=Kind.WRITE,
        obj=template,
        detail={
            "practitioner": practitioner.pk,
            "campus": draft.campus.pk,
            "department": draft.department.pk,
            "weekday": draft.weekday,
            "starts": f"{draft.starts:%H:%M}",
            "ends": f"{draft.ends:%H:%M}",
            "slot_minutes": draft.slot_minutes,
            "visit_types": [visit_type.pk for visit_type in draft.visit_types],
            "valid_from": draft.valid_from.isoformat(),
            "valid_until": draft.valid_until.isoformat() if draft.valid_until else None,
            "slots_created": created,
        },
    )
    return template, created


@dataclass(frozen=True)
class TemplateEnded:
    withdrawn: int  # open slots no longer offered
    still_booked: int  # appointments after the new end that the desk must move


@transaction.atomic
def do_end_template(
    actor: Actor, rights: ScheduleRights, template: ScheduleTemplate, last_day: dt.date
) -> TemplateEnded:
    """End a session on `last_day`: its open slots after that day are withdrawn."""
    _refuse_unless(
        rights.manages_templates_of(template.practitioner) and rights.manages_campus(template.campus_id)
    )
    _lock_clinician(template.practitioner)
    template = ScheduleTemplate.objects.select_related("campus").get(pk=template.pk)
    yesterday = timezone.now().astimezone(template.campus.zone).date() - dt.timedelta(days=1)
    if last_day < yesterday:
        raise ScheduleRefused(_("The last day cannot be further back than yesterday."), "last_day")
    if last_day < template.valid_from:
        raise ScheduleRefused(_("The last day must not be before the session's first day."), "last_day")
    if template.valid_until is not None and last_day >= template.valid_until:
        raise ScheduleRefused(_("Choose a day before the session's current last day."), "last_day")
    previous = template.valid_until
    template.valid_until = last_day
    template.save(update_fields=["valid_until"])
    withdrawn = slots.retire_template_slots(template)
    cutoff = dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time(), tzinfo=template.campus.zone)
    still_booked = Appointment.objects.filter(
        slot__template=template, starts_at__gte=cutoff, status=Appointment.Status.BOOKED
    ).count()
    record(
        actor,
        "schedules.template_end",
        kind=Kind.WRITE,
        obj=template,
        detail={
            "valid_until": last_day.isoformat(),
            "previous_valid_until": previous.isoformat() if previous else None,
            "slots_withdrawn": withdrawn,
            "still_booked": still_booked,
        },
    )
    return TemplateEnded(withdrawn=withdrawn, still_booked=still_booked)


@transaction.atomic
def do_remove_template(actor: Actor, rights: ScheduleRights, template: ScheduleTemplate) -> None:
    """Delete a session that never opened a slot (a mistake); one with slots can only end."""
    _refuse_unless(
        rights.manages_templates_of(template.practitioner) and rights.manages_campus(template.campus_id)
    )
    _lock_clinician(template.practitioner)
    if Slot.objects.filter(template_id=template.pk).exists():
        raise ScheduleRefused(_("This session has slots: end it instead of removing it."))
    detail = {"practitioner": template.practitioner_id, "session": str(template)}
    record(actor, "schedules.template_remove", kind=Kind.WRITE, obj=template, detail=detail)
    template.delete()


# Blocks ----------------------------------------------------------------------------------


@transaction.atomic
def do_add_block(
    actor: Actor,
    rights: ScheduleRights,
    practitioner: Practitioner,
    kind: str,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    reason: str = "",
) -> tuple[ScheduleBlock, int]:
    """Block time on a clinician's schedule; returns the block and how many open slots it closed.

    Booked appointments inside it stay booked for the desk to move.
    """
    _refuse_unless(rights.manages_blocks_of(practitioner))
    if kind not in ScheduleBlock.Kind.values:
        raise ScheduleRefused(_("Choose what kind of time this is."), "kind")
    if ends_at <= starts_at:
        raise ScheduleRefused(_("The block must end after it starts."), "ends_on")
    if ends_at - starts_at > MAX_BLOCK:
        raise ScheduleRefused(_("A block lasts at most one year: add another for longer."), "ends_on")
    if ends_at <= timezone.now():
        raise ScheduleRefused(_("The block is already over."), "ends_on")
    practitioner = _lock_clinician(practitioner)
    block = ScheduleBlock.objects.create(
        practitioner=practitioner,
        kind=kind,
        starts_at=starts_at,
        ends_at=ends_at,
        reason=reason.strip()[:200],
        created_by=actor.user,
    )
    blocked = slots.apply_block(block)
    record(
        actor,
        "schedules.block_add",
        kind=Kind.WRITE,
        obj=block,
        detail={
            "practitioner": practitioner.pk,
            "kind": kind,
            "starts_at": starts_at.isoformat(),
            "ends_at": ends_at.isoformat(),
            "slots_blocked": blocked,
        },
    )
    return block, blocked


@transaction.atomic
def do_remove_block(actor: Actor, rights: ScheduleRights, block: ScheduleBlock) -> int:
    """Remove a block and reopen the future slots no other block covers; returns how many."""
    _refuse_unless(rights.manages_blocks_of(block.practitioner))
    _lock_clinician(block.practitioner)
    period = (block.practitioner_id, block.starts_at, block.ends_at)
    detail = {
        "practitioner": block.practitioner_id,
        "kind": block.kind,
        "starts_at": block.starts_at.isoformat(),
    }
    record(actor, "schedules.block_remove", kind=Kind.WRITE, obj=block, detail=detail)
    block.delete()
    return slots.reopen_after_block_removed(*period)


def booked_inside(blocks: Iterable[ScheduleBlock]) -> QuerySet[Appointment]:
    """Booked appointments that fall in any of the blocks, for the desk to move."""
    inside = Q(pk__in=[])
    practitioner_ids = set()
    for block in blocks:
        practitioner_ids.add(block.practitioner_id)
        inside |= Q(starts_at__lt=block.ends_at, ends_at__gt=block.starts_at)
    return (
        Appointment.objects.filter(
            inside, practitioner_id__in=practitioner_ids, status=Appointment.Status.BOOKED
        )
        .select_related("patient", "campus", "visit_type")
        .order_by("starts_at", "pk")
    )


# Visit types -----------------------------------------------------------------------------


@dataclass(frozen=True)
class VisitTypeDraft:
    name: str
    slug: str
    description: str
    department: Department | None
    duration_minutes: int
    mode: str
    self_schedulable: bool
    established_only: bool
    preparation: str
    questionnaires: list[Questionnaire]
    consent_forms: list[ConsentForm]
    active: bool


@transaction.atomic
def do_save_visit_type(
    actor: Actor, rights: ScheduleRights, visit_type: VisitType | None, draft: VisitTypeDraft
) -> VisitType:
    """Add a visit type, or change one (`visit_type`) without breaking the sessions that offer it."""
    _refuse_unless(rights.is_desk)
    same_slug = VisitType.objects.filter(slug=draft.slug)
    if visit_type is not None:
        same_slug = same_slug.exclude(pk=visit_type.pk)
    if same_slug.exists():
        raise ScheduleRefused(_("Another visit type has this short name."), "slug")
    if visit_type is not None:
        visit_type = VisitType.objects.select_for_update().get(pk=visit_type.pk)
        _check_sessions_still_fit(visit_type, draft)
    adding = visit_type is None
    target = visit_type or VisitType()
    for name in (
        "name",
        "slug",
        "description",
        "department",
        "duration_minutes",
        "mode",
        "self_schedulable",
        "established_only",
        "preparation",
        "active",
    ):
        setattr(target, name, getattr(draft, name))
    target.full_clean(exclude=["questionnaires", "consent_forms"], validate_unique=False)
    target.save()
    target.questionnaires.set(draft.questionnaires)
    target.consent_forms.set(draft.consent_forms)
    record(
        actor,
        "schedules.visit_type_add" if adding else "schedules.visit_type_change",
        kind=Kind.WRITE,
        obj=target,
        detail={
            "slug": target.slug,
            "department": target.department_id,
            "duration_minutes": target.duration_minutes,
            "mode": target.mode,
            "self_schedulable": target.self_schedulable,
            "established_only": target.established_only,
            "active": target.active,
            "questionnaires": [item.pk for item in draft.questionnaires],
            "consent_forms": [item.pk for item in draft.consent_forms],
        },
    )
    return target


def _check_sessions_still_fit(visit_type: VisitType, draft: VisitTypeDraft) -> None:
    today = timezone.now().date()
    current = visit_type.schedule_templates.exclude(valid_until__lt=today)
    if current.filter(slot_minutes__lt=draft.duration_minutes).exists():
        raise ScheduleRefused(
            _("Some current sessions offering this visit have shorter slots than %(minutes)d minutes.")
            % {"minutes": draft.duration_minutes},
            "duration_minutes",
        )
    if draft.department is not None and current.exclude(department=draft.department).exists():
        raise ScheduleRefused(
            _("Current sessions of other departments offer this visit: it cannot move to one department."),
            "department",
        )
