"""Telling people that something needs them: the one way the portal notifies anyone.

`notify_patient` is for news about a patient. Everyone who acts for the patient with
the kind's scope (`KIND_SCOPES`) gets an in-app notification at once, composed in the
patient's language with whatever detail helps; it is only ever shown inside the portal.
Email and text messages go through the outbox, so they are sent by the worker, retried
and sent once: an email to each of those people when the patient's preferences allow
email for this kind, and one text to the patient's consented mobile number when they
allow texts. Both carry only the fixed wording in `outbound.py`, never health
information, and both wait for the end of the patient's quiet hours.

`notify_staff` tells members of staff about work (a new message in their pool, an
overdue thread) in the staff workspace.

Call both inside the transaction of the change they announce: the notification and its
outbox rows commit, or roll back, with it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from portal.accounts.models import User
from portal.notifications import outbox
from portal.notifications.models import Kind, Notification, OutboxMessage
from portal.notifications.outbound import STAFF_OUTBOUND, outbound_text
from portal.patients.models import CommunicationPreference, Patient, ProxyGrant, Scope

Compose = Callable[[], tuple[str, str]]

KIND_SCOPES: dict[str, str] = {
    Kind.MESSAGES: Scope.MESSAGE,
    Kind.RESULTS: Scope.VIEW,
    Kind.APPOINTMENTS: Scope.SCHEDULE,
    Kind.BILLING: Scope.BILLING,
}


def recipients(patient: Patient, kind: str, sensitivity: str = "") -> list[User]:
    """The patient's own account and proxies whose access covers `kind` (and `sensitivity`)."""
    from portal.patients.access import Role, decide

    users: list[User] = []
    if patient.account_id is not None and patient.account is not None and patient.account.is_active:
        users.append(patient.account)
    grants = ProxyGrant.objects.active().filter(patient=patient).select_related("grantee").order_by("pk")
    for grant in grants:
        access = decide(grant.grantee, patient)
        if access is None or access.role is not Role.PROXY or not access.allows(KIND_SCOPES[kind]):
            continue
        if sensitivity and access.hides(sensitivity):
            continue
        if all(user.pk != grant.grantee_id for user in users):
            users.append(grant.grantee)
    return users


def preference_of(patient: Patient) -> CommunicationPreference:
    found = CommunicationPreference.objects.filter(patient=patient).select_related("patient").first()
    return found or CommunicationPreference(patient=patient)


def notify_patient(
    patient: Patient,
    *,
    kind: str,
    key: str,
    link: str,
    compose: Compose,
    sensitivity: str = "",
    event: str = "",
) -> int:
    """Tell everyone who acts for the patient about news of `kind`; returns how many were told.

    `key` names the news ("messaging.reply:42") and makes each email and text happen
    once however often this runs. `compose` returns the in-app (title, body) and is
    called with the patient's language active. `event` picks a registered variant of
    the outbound wording.
    """
    with translation.override(patient_language(patient)):
        title, body = compose()
    users = recipients(patient, kind, sensitivity)
    Notification.objects.bulk_create(
        Notification(recipient=user, patient=patient, title=title[:200], body=body, link=link)
        for user in users
    )
    queue_outbound(patient, users, kind=kind, key=key, link=link, send_after=timezone.now(), event=event)
    return len(users)


def patient_language(patient: Patient) -> str:
    return patient.preferred_language or settings.LANGUAGE_CODE


def queue_outbound(
    patient: Patient,
    users: Iterable[User],
    *,
    kind: str,
    key: str,
    link: str,
    send_after: dt.datetime,
    event: str = "",
    not_after: dt.datetime | None = None,
) -> int:
    """Queue the fixed email and text about news of `kind`; returns how many were queued.

    An email to each of `users` with an address when the patient's preferences allow
    email for `kind`, and one text to the patient's consented mobile number when they
    allow texts for `kind` and its addressee is one of `users` (so the text never tells
    someone what the news's scope keeps from them). Both go at `send_after` or, if that
    falls in the patient's quiet hours, when they end; news that would then arrive at or
    after `not_after` (a reminder held past the visit) is not queued at all.
    """
    users = list(users)
    if not users:
        return 0
    preference = preference_of(patient)
    when = after_quiet_hours(preference, send_after)
    if not_after is not None and when >= not_after:
        return 0
    with translation.override(patient_language(patient)):
        subject, body = (_(text) for text in outbound_text(kind, event))
    queued = 0
    if preference.wants("email", kind):
        for user in users:
            if user.email:
                queued += queue(
                    user, patient, OutboxMessage.Channel.EMAIL, kind, key, subject, body, link, when
                )
    if preference.wants("sms", kind):
        texted = sms_recipient(patient)
        if texted is not None and any(user.pk == texted.pk for user in users):
            queued += queue(texted, patient, OutboxMessage.Channel.SMS, kind, key, subject, body, link, when)
    if queued and when > timezone.now():
        outbox.deliver_later(when)
    elif queued:
        outbox.deliver_soon()
    return queued


def sms_recipient(patient: Patient) -> User | None:
    """Who a text to the patient's mobile number is addressed to: the account holder, or
    (for a child without an account) the proxy who manages the account."""
    from portal.patients.access import decide

    if patient.account is not None and patient.account.is_active:
        return patient.account
    for grant in ProxyGrant.objects.active().filter(patient=patient).select_related("grantee").order_by("pk"):
        access = decide(grant.grantee, patient)
        if access is not None and access.manages_account:
            return grant.grantee
    return None


def queue(
    user: User,
    patient: Patient | None,
    channel: str,
    kind: str,
    key: str,
    subject: str,
    body: str,
    link: str,
    send_after: dt.datetime,
    *,
    for_staff: bool = False,
) -> int:
    """Put one email or text in the outbox, once per (key, recipient, channel); 1 if it is new."""
    _message, created = OutboxMessage.objects.get_or_create(
        dedupe_key=f"{key}:{user.pk}:{channel}"[:200],
        defaults={
            "recipient": user,
            "patient": patient,
            "for_staff": for_staff,
            "kind": kind,
            "channel": channel,
            "subject": subject[:200],
            "body": body,
            "link": link,
            "topic": key.split(":", 1)[0][:60],
            "send_after": send_after,
        },
    )
    return int(created)


def after_quiet_hours(preference: CommunicationPreference, moment: dt.datetime) -> dt.datetime:
    """`moment`, or the end of the patient's quiet hours if `moment` falls inside them."""
    start, end = preference.quiet_start, preference.quiet_end
    if start is None or end is None or start == end:
        return moment
    zone = ZoneInfo(patient_time_zone(preference.patient))
    local = moment.astimezone(zone)
    now = local.time()
    inside = start <= now < end if start < end else (now >= start or now < end)
    if not inside:
        return moment
    day = local.date() if now < end else local.date() + dt.timedelta(days=1)
    return dt.datetime.combine(day, end, tzinfo=zone).astimezone(dt.UTC)


def patient_time_zone(patient: Patient) -> str:
    campus = patient.primary_campus
    return campus.time_zone if campus is not None else settings.TIME_ZONE


def notify_staff(
    users: Iterable[User],
    *,
    key: str,
    link: str,
    title: str,
    body: str = "",
    patient: Patient | None = None,
    email: bool = False,
) -> int:
    """Tell members of staff about work in the staff workspace; returns how many were told.

    `title` and `body` are already translated (staff read the workspace in their own
    language, chosen when the text is composed). With `email`, each also gets the fixed
    staff email, once per `key`.
    """
    people = [user for user in users if user.is_active]
    Notification.objects.bulk_create(
        Notification(recipient=user, patient=patient, for_staff=True, title=title[:200], body=body, link=link)
        for user in people
    )
    if email:
        subject, text = (_(part) for part in STAFF_OUTBOUND)
        now = timezone.now()
        queued = sum(
            queue(
                user, patient, OutboxMessage.Channel.EMAIL, "", key, subject, text, link, now, for_staff=True
            )
            for user in people
            if user.email
        )
        if queued:
            outbox.deliver_soon()
    return len(people)
