"""Delivering the outbox: each due message sent once, failures retried with backoff.

A message is claimed in its own transaction with `SELECT ... FOR UPDATE SKIP LOCKED`
(PostgreSQL), so several workers share the queue and never take the same row; on SQLite
the IMMEDIATE transaction serialises them. `sent_at` is set in that same transaction:
for the portal channel together with the notification it creates, for email once the
mail backend has accepted the message. A failed email counts an attempt, records what
went wrong (never the message itself) and waits 2, 4, 8 ... minutes before the next
try; after `MAX_ATTEMPTS` it stays unsent with its last error for someone to look at.

A message whose recipient no longer acts for the patient when it falls due (a proxy
whose access ended, a closed account) is cancelled instead of sent.

Text messages wait for an SMS provider (the messaging work): they are marked
"no SMS provider" and left unsent.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from portal.notifications.models import Notification, OutboxMessage

MAX_ATTEMPTS = 8
NO_SMS_PROVIDER = "no SMS provider"
NO_EMAIL_ADDRESS = "recipient has no email address"

# Topic prefix -> the scope a recipient must still have when the message goes out
# (a reminder queued for a proxy whose access has since ended is dropped, not sent).
_topic_scopes: dict[str, str] = {}


def require_scope(topic_prefix: str, scope: str) -> None:
    """Say that messages whose topic starts with `topic_prefix` need `scope` at delivery."""
    _topic_scopes[topic_prefix] = scope


def still_addressed(message: OutboxMessage) -> bool:
    """Whether the recipient still acts for the patient (on the patient side, with the topic's scope)."""
    from portal.patients.access import decide

    if not message.recipient.is_active:
        return False
    if message.for_staff or message.patient is None:
        return bool(getattr(message.recipient, "is_workforce", False))
    access = decide(message.recipient, message.patient)
    if access is None or access.is_staff_access:
        return False
    needed = [scope for prefix, scope in _topic_scopes.items() if message.topic.startswith(prefix)]
    return all(access.allows(scope) for scope in needed)


def due(now: dt.datetime) -> QuerySet[OutboxMessage]:
    return OutboxMessage.objects.filter(
        sent_at__isnull=True,
        cancelled_at__isnull=True,
        send_after__lte=now,
        attempts__lt=MAX_ATTEMPTS,
    )


def deliver_due(now: dt.datetime | None = None, limit: int = 100) -> int:
    """Send up to `limit` due messages; returns how many were sent."""
    now = now or timezone.now()
    due(now).filter(channel=OutboxMessage.Channel.SMS, last_error="").update(last_error=NO_SMS_PROVIDER)
    candidates = list(
        due(now)
        .exclude(channel=OutboxMessage.Channel.SMS)
        .order_by("send_after", "id")
        .values_list("pk", flat=True)[:limit]
    )
    return sum(_deliver_one(message_id, now) for message_id in candidates)


def _deliver_one(message_id: int, now: dt.datetime) -> bool:
    with transaction.atomic():
        # Re-checked under the lock: another worker may have sent or claimed it since.
        message = (
            due(now)
            .select_for_update(skip_locked=True, of=("self",))
            .select_related("recipient", "patient")
            .filter(pk=message_id)
            .first()
        )
        if message is None:
            return False
        if not still_addressed(message):
            message.cancelled_at = timezone.now()
            message.save(update_fields=["cancelled_at"])
            return False
        if message.channel == OutboxMessage.Channel.IN_APP:
            _deliver_in_app(message)
        else:
            try:
                _send_email(message)
            except Exception as exc:  # any failure of the mail backend is retried later
                _record_failure(message, exc)
                return False
        message.sent_at = timezone.now()
        message.attempts += 1
        message.last_error = ""
        message.save(update_fields=["sent_at", "attempts", "last_error"])
        return True


def _deliver_in_app(message: OutboxMessage) -> None:
    Notification.objects.create(
        recipient=message.recipient,
        patient=message.patient,
        title=message.subject[:200],
        body=message.body,
        link=message.link,
    )


class NoEmailAddress(Exception):
    """The recipient has no email address to send to."""


def _send_email(message: OutboxMessage) -> None:
    address = message.recipient.email
    if not address:
        raise NoEmailAddress(NO_EMAIL_ADDRESS)
    send_mail(
        f"{settings.ACCOUNT_EMAIL_SUBJECT_PREFIX}{message.subject}",
        email_body(message),
        settings.DEFAULT_FROM_EMAIL,
        [address],
        fail_silently=False,
    )


def email_body(message: OutboxMessage) -> str:
    """The message's text and where to read more, in the patient's language."""
    base = settings.SITE_ROOT.rstrip("/")
    language = message.patient.preferred_language if message.patient is not None else ""
    with translation.override(language or settings.LANGUAGE_CODE):
        if base and message.link:
            more = _("Sign in to see it: %(url)s") % {"url": f"{base}{message.link}"}
        else:
            more = _("Sign in to the patient portal to see it.")
    return f"{message.body}\n\n{more}\n"


def _record_failure(message: OutboxMessage, exc: Exception) -> None:
    message.attempts += 1
    # The error's kind and code only: an exception's text may quote the message or address.
    code = getattr(exc, "smtp_code", None)
    kind = NO_EMAIL_ADDRESS if isinstance(exc, NoEmailAddress) else type(exc).__name__
    message.last_error = (f"{kind} {code}" if code else kind)[:300]
    if isinstance(exc, NoEmailAddress):
        message.attempts = MAX_ATTEMPTS  # retrying cannot help
    else:
        message.send_after = timezone.now() + dt.timedelta(minutes=2**message.attempts)
    message.save(update_fields=["attempts", "last_error", "send_after"])
    if message.attempts < MAX_ATTEMPTS:
        deliver_later(message.send_after)


def deliver_later(send_after: dt.datetime) -> None:
    """Once the current transaction commits, have the worker deliver at `send_after`.

    Only where the task backend can run a task later (the database queue); elsewhere
    `portal deliver_outbox` catches up.
    """
    from portal.notifications.tasks import deliver_outbox

    if not deliver_outbox.get_backend().supports_defer:
        return
    transaction.on_commit(lambda: deliver_outbox.using(run_after=send_after).enqueue())


def deliver_soon() -> None:
    """Once the current transaction commits, have the worker deliver what is due now."""
    from portal.notifications.tasks import deliver_outbox

    transaction.on_commit(lambda: deliver_outbox.enqueue())
