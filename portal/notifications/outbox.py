"""Delivering the outbox: each due message sent once, never lost, failures retried with backoff.

Portal notifications are delivered in one transaction: the row is locked, the
`Notification` created and `sent_at` set together.

Emails and texts leave the database, so they go in two phases:
1. claim: in a short transaction the due row is locked (`SELECT ... FOR UPDATE SKIP
   LOCKED` on PostgreSQL, so workers share the queue; SQLite's IMMEDIATE transactions
   serialise them), re-checked (`still_addressed`), stamped `claimed_at` and counted as
   an attempt, and committed;
2. hand it to the provider with the idempotency key `outbox-<id>` (for email the
   `X-Portal-Idempotency-Key` header and the Message-ID `<outbox-<id>@<site>>`), then
   record `sent_at` and the provider's reference.
A worker that dies between the two leaves the row claimed; once the claim is older than
`LEASE` another worker sends it again with the same key, which the providers use to
deliver it once (the demo mailbox and the local SMS provider store one entry per key).
So a killed worker never loses a message, and never doubles one where the provider
deduplicates. Provider calls time out far sooner than `LEASE` (`EMAIL_TIMEOUT`, the
Twilio client's timeout), so a stalled send fails and backs off rather than being taken
over; and an expired claim is taken over only while `attempts <= MAX_ATTEMPTS`, after
which the row is left with "worker stopped while sending" for someone to look at.

A failure records only the error's kind (never the address or the text), releases the
claim and waits 2, 4, 8 ... minutes; after `MAX_ATTEMPTS` the row stays unsent with its
last error for someone to look at. Errors no retry can fix (no email address, an invalid
number) give up at once.

A message whose recipient no longer acts for the patient with the kind's scope, or whose
channel the patient has since turned off (email for that kind, or text consent for the
current mobile number), is cancelled instead of sent.

With no SMS provider configured (`PORTAL_SMS_PROVIDER` empty) texts are marked
"no SMS provider" and wait for one.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import smtplib
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from portal.notifications.mailbox import IDEMPOTENCY_HEADER
from portal.notifications.models import Notification, OutboxMessage
from portal.notifications.sms import registry as sms_registry
from portal.notifications.sms.base import PermanentSmsError, SmsError, SmsProvider

if TYPE_CHECKING:
    from portal.patients.models import Patient

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
# 24 random bytes: 32 URL-safe characters in the unsubscribe link.
UNSUBSCRIBE_TOKEN_BYTES = 24
# How long a claimed email or text may stay unconfirmed before another worker sends it
# again (with the same idempotency key): far longer than any provider call takes.
LEASE = dt.timedelta(minutes=5)
NO_SMS_PROVIDER = "no SMS provider"
NO_EMAIL_ADDRESS = "recipient has no email address"
NO_MOBILE_NUMBER = "no mobile number"
WORKER_STOPPED = "worker stopped while sending"

# Topic prefix -> the scope a recipient must still have when the message goes out
# (a reminder queued for a proxy whose access has since ended is dropped, not sent).
_topic_scopes: dict[str, str] = {}


def require_scope(topic_prefix: str, scope: str) -> None:
    """Say that messages whose topic starts with `topic_prefix` need `scope` at delivery."""
    _topic_scopes[topic_prefix] = scope


def idempotency_key(message: OutboxMessage) -> str:
    return f"outbox-{message.pk}"


def kind_of(message: OutboxMessage) -> str:
    """The message's kind of news; for rows queued without one (visit reminders), the kind
    whose scope its topic requires."""
    from portal.notifications.send import KIND_SCOPES

    if message.kind:
        return message.kind
    scopes = _topic_scopes_of(message)
    return next((kind for kind, scope in KIND_SCOPES.items() if scope in scopes), "")


def _topic_scopes_of(message: OutboxMessage) -> list[str]:
    return [scope for prefix, scope in _topic_scopes.items() if message.topic.startswith(prefix)]


def still_addressed(message: OutboxMessage) -> bool:
    """Whether the message may still go: the recipient still acts for the patient (on the
    patient side, with the kind's and topic's scopes) and the patient still wants news
    of this kind by this channel. Staff messages: the recipient is still active staff."""
    if not message.recipient.is_active:
        return False
    if message.for_staff or message.patient is None:
        return bool(getattr(message.recipient, "is_workforce", False))
    return recipient_still_acts(message) and _channel_wanted(message, message.patient)


def recipient_still_acts(message: OutboxMessage) -> bool:
    """Whether the recipient of a message about a patient still acts for that patient, on
    the patient side, with the scopes its kind and topic need."""
    from portal.notifications.send import KIND_SCOPES
    from portal.patients.access import decide

    if message.for_staff or message.patient is None:
        return False
    access = decide(message.recipient, message.patient)
    if access is None or access.is_staff_access:
        return False
    needed = _topic_scopes_of(message)
    if message.kind in KIND_SCOPES:
        needed.append(KIND_SCOPES[message.kind])
    return all(access.allows(scope) for scope in needed)


def _channel_wanted(message: OutboxMessage, patient: Patient) -> bool:
    from portal.notifications.send import preference_of

    if message.channel == OutboxMessage.Channel.IN_APP:
        return True
    preference = preference_of(patient)
    kind = kind_of(message)
    if message.channel == OutboxMessage.Channel.EMAIL:
        return preference.wants("email", kind) if kind else preference.email_updates
    # A text needs consent to the patient's current mobile number (`wants` checks it).
    return bool(kind) and preference.wants("sms", kind)


def due(now: dt.datetime) -> QuerySet[OutboxMessage]:
    """Unsent, uncancelled rows whose time has come, unclaimed or with an expired claim."""
    return OutboxMessage.objects.filter(
        # An expired claim (the worker died or stalled mid-send) is taken over with the
        # same idempotency key, even on the last attempt, but only once past it: a message
        # that keeps stopping its worker must not be sent again every `LEASE` for ever.
        Q(claimed_at__isnull=True, attempts__lt=MAX_ATTEMPTS)
        | Q(claimed_at__lte=now - LEASE, attempts__lt=MAX_ATTEMPTS + 1),
        sent_at__isnull=True,
        cancelled_at__isnull=True,
        send_after__lte=now,
    )


def give_up_stopped(now: dt.datetime) -> int:
    """Leave rows whose every allowed claim expired unsent, with an error someone can see;
    returns how many."""
    stopped = OutboxMessage.objects.filter(
        claimed_at__lte=now - LEASE,
        attempts__gte=MAX_ATTEMPTS + 1,
        sent_at__isnull=True,
        cancelled_at__isnull=True,
    ).update(claimed_at=None, last_error=WORKER_STOPPED)
    if stopped:
        logger.warning("%s outbox message(s) given up: %s", stopped, WORKER_STOPPED)
    return stopped


def deliver_due(now: dt.datetime | None = None, limit: int = 100) -> int:
    """Send up to `limit` due messages; returns how many were sent."""
    now = now or timezone.now()
    give_up_stopped(now)
    candidates = due(now)
    if not sms_registry.is_configured():
        due(now).filter(channel=OutboxMessage.Channel.SMS, last_error="").update(last_error=NO_SMS_PROVIDER)
        candidates = candidates.exclude(channel=OutboxMessage.Channel.SMS)
    message_ids = list(candidates.order_by("send_after", "id").values_list("pk", flat=True)[:limit])
    providers = _Providers()
    return sum(_deliver_one(message_id, now, providers) for message_id in message_ids)


class _Providers:
    """The SMS provider, made once per batch and only if the batch has a text."""

    def __init__(self) -> None:
        self._sms: SmsProvider | None = None

    def sms(self) -> SmsProvider:
        if self._sms is None:
            self._sms = sms_registry.get_provider()
        return self._sms


def _deliver_one(message_id: int, now: dt.datetime, providers: _Providers) -> bool:
    message = _claim(message_id, now)
    if message is None:
        return False
    if message.sent_at is not None:
        return True  # a portal notification, delivered in the claim's own transaction
    # The claim is committed: from here a crash leaves the row to be sent again after LEASE.
    try:
        reference = _send(message, providers)
    except Exception as exc:  # any provider failure is recorded and retried (or given up)
        _record_failure(message, exc)
        return False
    return _record_sent(message, reference)


def _record_sent(message: OutboxMessage, reference: str) -> bool:
    with transaction.atomic():
        # Guarded: a second worker that took over an expired claim may have recorded it.
        sent = OutboxMessage.objects.filter(pk=message.pk, sent_at__isnull=True).update(
            sent_at=timezone.now(), provider_reference=reference[:100], last_error=""
        )
    return bool(sent)


def _claim(message_id: int, now: dt.datetime) -> OutboxMessage | None:
    """Lock the row if still due; deliver it now if it is a portal notification, else claim
    it for sending. None if it is gone, taken or cancelled."""
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
            return None
        if not still_addressed(message):
            message.cancelled_at = timezone.now()
            message.save(update_fields=["cancelled_at"])
            return None
        message.attempts += 1
        if message.channel == OutboxMessage.Channel.IN_APP:
            _deliver_in_app(message)
            message.sent_at = timezone.now()
            message.last_error = ""
            message.save(update_fields=["sent_at", "attempts", "last_error"])
        else:
            message.claimed_at = timezone.now()
            fields = ["claimed_at", "attempts"]
            if needs_unsubscribe_token(message):
                # Committed with the claim, before the email exists: a retry after a
                # killed worker carries the same link.
                message.unsubscribe_token = secrets.token_urlsafe(UNSUBSCRIBE_TOKEN_BYTES)
                fields.append("unsubscribe_token")
            message.save(update_fields=fields)
        return message


def needs_unsubscribe_token(message: OutboxMessage) -> bool:
    """An email about a patient's news (every kind can be turned off) without its token yet."""
    return (
        message.channel == OutboxMessage.Channel.EMAIL
        and not message.unsubscribe_token
        and not message.for_staff
        and message.patient_id is not None
        and bool(kind_of(message))
    )


def _deliver_in_app(message: OutboxMessage) -> None:
    Notification.objects.create(
        recipient=message.recipient,
        patient=message.patient,
        for_staff=message.for_staff,
        title=message.subject[:200],
        body=message.body,
        link=message.link,
    )


def _send(message: OutboxMessage, providers: _Providers) -> str:
    if message.channel == OutboxMessage.Channel.SMS:
        return _send_sms(message, providers.sms())
    return _send_email(message)


class NoEmailAddress(Exception):
    """The recipient has no email address to send to."""


def _send_email(message: OutboxMessage) -> str:
    address = message.recipient.email
    if not address:
        raise NoEmailAddress(NO_EMAIL_ADDRESS)
    email = compose_email(message, address)
    email.send(fail_silently=False)
    return str(email.extra_headers["Message-ID"])


def compose_email(message: OutboxMessage, address: str) -> EmailMessage:
    """The email for an outbox row: fixed wording, a link into the portal, and for news the
    patient may turn off, an unsubscribe link and the one-click unsubscribe headers (with
    the token the claim gave the row; see `needs_unsubscribe_token`)."""
    key = idempotency_key(message)
    headers = {IDEMPOTENCY_HEADER: key, "Message-ID": f"<{key}@{_mail_domain()}>"}
    unsubscribe = unsubscribe_link(message)
    if unsubscribe:
        headers["List-Unsubscribe"] = f"<{unsubscribe}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return EmailMessage(
        subject=f"{settings.ACCOUNT_EMAIL_SUBJECT_PREFIX}{message.subject}",
        body=email_body(message, unsubscribe),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[address],
        headers=headers,
    )


def _mail_domain() -> str:
    return urlsplit(settings.SITE_ROOT).hostname or "localhost"


def unsubscribe_link(message: OutboxMessage) -> str:
    """The unsubscribe address for an email about the patient's news; "" for staff email.

    It carries only the row's random token: no patient id and no kind of news, since an
    email must say nothing about the patient."""
    from portal.notifications.unsubscribe import unsubscribe_url

    if message.for_staff or message.patient_id is None or not message.unsubscribe_token:
        return ""
    return unsubscribe_url(message.unsubscribe_token)


def _site_link(message: OutboxMessage) -> str:
    base = settings.SITE_ROOT.rstrip("/")
    return f"{base}{message.link}" if base and message.link else ""


def _language(message: OutboxMessage) -> str:
    language = message.patient.preferred_language if message.patient is not None else ""
    return language or settings.LANGUAGE_CODE


def email_body(message: OutboxMessage, unsubscribe: str = "") -> str:
    """The message's text and where to read more, in the patient's language. The kind of
    news is not named: "results" alone would say something about the patient's health."""
    link = _site_link(message)
    with translation.override(_language(message)):
        if link:
            more = _("Sign in to see it: %(url)s") % {"url": link}
        else:
            more = _("Sign in to the patient portal to see it.")
        text = f"{message.body}\n\n{more}\n"
        if unsubscribe:
            stop = _("To stop emails like this one, open: %(url)s") % {"url": unsubscribe}
            text += f"\n--\n{stop}\n"
    return text


def sms_body(message: OutboxMessage) -> str:
    link = _site_link(message)
    with translation.override(_language(message)):
        more = _("Sign in to see it: %(url)s") % {"url": link} if link else ""
    return f"{message.body} {more}".strip()


def _send_sms(message: OutboxMessage, provider: SmsProvider) -> str:
    # The number consented to, as it is now: `still_addressed` checked the consent
    # matches it in the claim's transaction.
    number = message.patient.mobile_phone if message.patient is not None else ""
    if not number:
        raise PermanentSmsError(NO_MOBILE_NUMBER)
    return provider.send(number, sms_body(message), idempotency_key(message))


def _classify(exc: Exception) -> tuple[str, bool]:
    """(what to record, whether retrying is pointless). The error's kind and code only:
    an exception's text may quote the message or the address."""
    if isinstance(exc, NoEmailAddress):
        return NO_EMAIL_ADDRESS, True
    if isinstance(exc, SmsError):
        return exc.kind, exc.permanent
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = sorted({code for code, _reply in exc.recipients.values()})
        return f"{type(exc).__name__} {codes[0] if codes else ''}".strip(), bool(codes) and codes[0] >= 500
    code = getattr(exc, "smtp_code", None)
    kind = f"{type(exc).__name__} {code}" if code else type(exc).__name__
    # A message the server refuses outright (5xx after DATA) will be refused again;
    # other 5xx (authentication, sender) are configuration an administrator can fix.
    return kind, isinstance(exc, smtplib.SMTPDataError) and isinstance(code, int) and code >= 500


def _record_failure(message: OutboxMessage, exc: Exception) -> None:
    kind, permanent = _classify(exc)
    fields: dict[str, object] = {"last_error": kind[:300], "claimed_at": None}
    send_after = timezone.now() + dt.timedelta(minutes=2**message.attempts)
    if permanent:
        fields["attempts"] = MAX_ATTEMPTS
    else:
        fields["send_after"] = send_after
    with transaction.atomic():
        OutboxMessage.objects.filter(pk=message.pk, sent_at__isnull=True).update(**fields)
    logger.warning("outbox message %s not sent (attempt %s): %s", message.pk, message.attempts, kind)
    if not permanent and message.attempts < MAX_ATTEMPTS:
        deliver_later(send_after)


def deliver_later(send_after: dt.datetime) -> None:
    """Once the current transaction commits, have the worker deliver at `send_after`.

    Only where the task backend can run a task later (the database queue); elsewhere
    `portal deliver_outbox` catches up.
    """
    from portal.notifications.tasks import deliver_outbox

    if not deliver_outbox.get_backend().supports_defer:
        return
    _enqueue_with_transaction(lambda: deliver_outbox.using(run_after=send_after).enqueue())


def deliver_soon() -> None:
    """Once the current transaction commits, have the worker deliver what is due now."""
    from portal.notifications.tasks import deliver_outbox

    _enqueue_with_transaction(lambda: deliver_outbox.enqueue())


def _enqueue_with_transaction(enqueue: Callable[[], object]) -> None:
    """Enqueue so that the task exists exactly when the rows it delivers do.

    The database queue stores the task in the current transaction: it commits with the
    outbox rows, or not at all. With `on_commit` an app server killed between the commit
    and the callback would leave committed rows with no task to deliver them until some
    later write's task or `portal deliver_outbox` ran. Other backends (the immediate one
    in tests) run the task at once, which must wait for the commit to see the rows."""
    from django_tasks_db import DatabaseBackend

    from portal.notifications.tasks import deliver_outbox

    if isinstance(deliver_outbox.get_backend(), DatabaseBackend):
        enqueue()
    else:
        transaction.on_commit(enqueue)
