"""The demo mailbox: every email and text delivered locally, so a newcomer can follow
activation and notification flows without a mail server or a phone.

Only with `PORTAL_DEMO_MAILBOX` (never in production); otherwise the page does not exist.
It needs no sign-in: activation emails arrive before their reader has an account.
"""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from portal.lib.paging import keyset_page
from portal.notifications.models import MailboxEntry

PAGE_SIZE = 20


def mailbox(request: HttpRequest) -> HttpResponse:
    if not settings.PORTAL_DEMO_MAILBOX:
        raise Http404
    page = keyset_page(MailboxEntry.objects.all(), request.GET.get("before"), PAGE_SIZE)
    return render(request, "notifications/mailbox.html", {"page": page})
