"""The home page's telehealth cards: a video visit to join now, and e-visits with news.

"Video visit" shows while a video appointment is open to join (from shortly before it
starts), with the link straight into it. "E-visits" shows answers this user has not
opened yet and e-visits still waiting for a clinician. An answer counts as opened once
this user has read the e-visit since the reply: that read is already in the audit
trail, so no second record of it is kept. E-visits come through `evisits_of`, so a
parent of a 12-17-year-old hears nothing of a confidential one. Each card runs a fixed
number of queries.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.audit.models import AuditEvent
from portal.dashboard.cards import Card, card_provider
from portal.patients.access import PatientAccess
from portal.patients.models import Scope
from portal.scheduling.access import appointments_of
from portal.scheduling.models import Mode
from portal.telehealth.access import LIVE_STATUSES, is_joinable, may_join_video
from portal.telehealth.evisit_access import evisits_of
from portal.telehealth.models import EVisit
from portal.telehealth.phrases_evisits import both

SHOWN = 5
# An answer stops being news on the home page after this long, opened or not.
ANSWER_NEWS_DAYS = 30
ANSWERED = (EVisit.Status.COMPLETED, EVisit.Status.REDIRECTED)


@card_provider
def video_visit(request: HttpRequest, access: PatientAccess) -> Card | None:
    """One query: the video appointments open to join right now."""
    if not may_join_video(access):
        return None
    now = timezone.now()
    opens = dt.timedelta(minutes=settings.PORTAL_VIDEO_OPENS_MINUTES_BEFORE)
    closes = dt.timedelta(minutes=settings.PORTAL_VIDEO_CLOSES_MINUTES_AFTER)
    candidates = appointments_of(access).filter(
        mode=Mode.VIDEO, status__in=LIVE_STATUSES, starts_at__lte=now + opens, ends_at__gte=now - closes
    )
    joinable = [
        appointment
        for appointment in candidates.select_related("video_visit").order_by("starts_at", "id")[:3]
        if is_joinable(appointment, now)
    ]
    if not joinable:
        return None
    return Card(_("Video visit"), "telehealth/cards/video.html", {"appointment": joinable[0]}, order=5)


@card_provider
def evisits_card(request: HttpRequest, access: PatientAccess) -> Card | None:
    """Two queries: the open and recently answered e-visits, then which answers this user has read."""
    if access.is_staff_access or not access.allows(Scope.MESSAGE):
        return None
    since = timezone.now() - dt.timedelta(days=ANSWER_NEWS_DAYS)
    recent = list(
        evisits_of(access)
        .filter(Q(status__in=EVisit.OPEN_STATUSES) | Q(status__in=ANSWERED, replied_at__gte=since))
        .order_by("-created_at", "-id")[: SHOWN + 1]
    )
    answered = [evisit for evisit in recent if evisit.status in ANSWERED]
    opened = _opened_since_reply(access, answered, since)
    news = [evisit for evisit in answered if evisit.pk not in opened]
    waiting = [evisit for evisit in recent if evisit.is_open]
    if not news and not waiting:
        return None
    context = {"answered": news, "waiting": waiting, "more": len(recent) > SHOWN}
    return Card(_("E-visits"), "telehealth/cards/evisits.html", context, order=16)


def _opened_since_reply(access: PatientAccess, answered: list[EVisit], since: dt.datetime) -> set[int]:
    """Which of the answered e-visits this user has read (an audited view) since the reply."""
    if not answered:
        return set()
    reads = AuditEvent.objects.filter(
        patient=access.patient,
        kind=AuditEvent.Kind.READ,
        action__in=both("telehealth.evisit_view"),
        actor=access.user,
        object_type=EVisit._meta.label_lower,
        object_id__in=[str(evisit.pk) for evisit in answered],
        occurred_at__gte=since,
    ).values_list("object_id", "occurred_at")
    replied = {evisit.pk: evisit.replied_at or since for evisit in answered}
    return {int(pk) for pk, at in reads if at >= replied[int(pk)]}
