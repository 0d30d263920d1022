"""Telling the patient (and whoever manages their visits) that something changed.

In the portal at once, and by email through the outbox when the patient wants email.
The text is composed in the patient's preferred language, since stored text cannot
follow each reader's language later; it names the visit, never health details.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.utils import timezone, translation

from portal.notifications import outbox
from portal.notifications.models import Notification, OutboxMessage
from portal.patients.models import Patient
from portal.scheduling.reminders import recipients, wants_email

Compose = Callable[[], tuple[str, str]]


def tell_patient(patient: Patient, *, key: str, link: str, compose: Compose, topic: str) -> int:
    """Notify everyone who manages the patient's visits; `key` makes it happen once.

    `compose` returns (title, body) and is called with the patient's language active.
    Returns how many people were told.
    """
    with translation.override(patient.preferred_language or settings.LANGUAGE_CODE):
        title, body = compose()
    users = recipients(patient)
    now = timezone.now()
    email = wants_email(patient)
    for user in users:
        Notification.objects.create(recipient=user, patient=patient, title=title[:200], body=body, link=link)
        if email and user.email:
            OutboxMessage.objects.get_or_create(
                dedupe_key=f"{topic}:{key}:{user.pk}",
                defaults={
                    "recipient": user,
                    "patient": patient,
                    "channel": OutboxMessage.Channel.EMAIL,
                    "subject": title[:200],
                    # Email travels in the clear: the title only, the details in the portal.
                    "body": title,
                    "link": link,
                    "topic": topic,
                    "send_after": now,
                },
            )
    if email and users:
        outbox.deliver_soon()
    return len(users)
