"""Unsubscribing from one kind of email news, from the link every such email carries.

The link holds the email's own random token (`OutboxMessage.unsubscribe_token`, set when
the email was claimed for sending), so it says nothing about the patient or the news,
and works without signing in, from any mail program. The token leads to the email's
outbox row, and so to its patient, its kind of news and its recipient.

Opening the link shows a page naming the kind (the visitor holds the email) with a
button; opening it changes nothing, since mail scanners follow links. Pressing the
button, or a mail program's RFC 8058 one-click `POST` with `List-Unsubscribe=One-Click`,
turns that kind off for email in the patient's communication preferences, for everyone
who gets the patient's emails, since the preferences are the patient's. The change is
audited as the system acting for the patient; the patient can turn it on again on the
preferences page.

The link works only while the email's recipient still acts for the patient with the
kind's scope (a proxy whose access ended, or no longer covers the kind, cannot use it),
and for `MAX_AGE` after the email was sent. An unknown, malformed or no longer usable
link gets one generic "This link does not work" page, the same whatever the reason; an
expired one gets a page that sends the visitor to sign in and change their preferences.
Neither page, nor the one with the button, says whether the kind is on or off.
"""

from __future__ import annotations

import datetime as dt
import re

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from portal.audit.actor import Actor, client_ip
from portal.audit.log import ActorRole, record
from portal.audit.log import Kind as AuditKind
from portal.audit.vocabulary import register
from portal.notifications import outbox
from portal.notifications.models import Kind, OutboxMessage
from portal.patients.models import CommunicationPreference

# Long enough for an email read weeks later; older links lead to signing in instead.
MAX_AGE = dt.timedelta(days=90)
ACTION = "notifications.email_unsubscribe"
# What `secrets.token_urlsafe` makes (with some room): anything else is not looked up.
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{20,64}")

register(ACTION, _("turned off one kind of email news, from the link in an email"))


def unsubscribe_url(token: str) -> str:
    path = reverse("notifications:unsubscribe", args=[token])
    return f"{settings.SITE_ROOT.rstrip('/')}{path}"


def find_email(token: str) -> OutboxMessage | None:
    """The email about a patient's news that carries `token`, or None."""
    if not TOKEN_SHAPE.fullmatch(token):
        return None
    return (
        OutboxMessage.objects.select_related("recipient", "patient")
        .filter(
            unsubscribe_token=token,
            channel=OutboxMessage.Channel.EMAIL,
            for_staff=False,
            patient__isnull=False,
        )
        .first()
    )


def issued_at(message: OutboxMessage) -> dt.datetime:
    """When the email's link came into the world: when it was sent, or (an email whose
    sending was never recorded, so may have gone) when it was queued."""
    return message.sent_at or message.created_at


def is_expired(message: OutboxMessage, now: dt.datetime | None = None) -> bool:
    return (now or timezone.now()) - issued_at(message) > MAX_AGE


def do_unsubscribe_email_kind(actor: Actor, message: OutboxMessage, kind: str) -> bool:
    """Turn email off for news of `kind` about the email's patient; False if it was already off."""
    if message.patient is None:  # staff email has no link; `find_email` never loads one
        return False
    with transaction.atomic():
        preference, _created = CommunicationPreference.objects.select_for_update().get_or_create(
            patient=message.patient
        )
        if kind not in preference.email_kinds:
            return False
        preference.email_kinds = [wanted for wanted in preference.email_kinds if wanted != kind]
        preference.save(update_fields=["email_kinds", "updated_at"])
        record(
            actor,
            ACTION,
            kind=AuditKind.WRITE,
            role=ActorRole.SYSTEM,
            patient=message.patient,
            obj=preference,
            detail={"kind": kind, "channel": "email"},
        )
        return True


def _invalid(request: HttpRequest) -> HttpResponse:
    return render(request, "notifications/unsubscribe_invalid.html", status=400)


@csrf_exempt  # the token is the proof; mail programs' one-click POST carries no CSRF token
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    message = find_email(token)
    kind = outbox.kind_of(message) if message is not None else ""
    if message is None or kind not in Kind.values:
        return _invalid(request)
    if is_expired(message):
        expired = {"max_age_days": MAX_AGE.days}
        return render(request, "notifications/unsubscribe_expired.html", expired, status=410)
    # The same page as an unknown link: whoever the email went to no longer speaks for
    # the patient about this kind of news, so their old link changes nothing.
    if not outbox.recipient_still_acts(message):
        return _invalid(request)
    context = {"kind_label": Kind(kind).label, "token": token}
    if request.method == "GET":
        return render(request, "notifications/unsubscribe.html", context)
    # Whoever holds the link acts through it: recorded as the system, with where it came from.
    actor = Actor(
        user=None, client_ip=client_ip(request), user_agent=request.headers.get("User-Agent", "")[:300]
    )
    do_unsubscribe_email_kind(actor, message, kind)
    return render(request, "notifications/unsubscribe_done.html", context)
