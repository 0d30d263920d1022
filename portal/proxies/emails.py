"""Emails about proxy access: invitations, and answers to parents' requests."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from portal.patients.models import Scope
from portal.proxies.models import ProxyInvitation, ProxyRequest
from portal.proxies.tokens import invitation_token


def absolute(path: str) -> str:
    return settings.SITE_ROOT.rstrip("/") + path


def _message(template: str, context: dict[str, Any], to: str, language: str | None = None) -> EmailMessage:
    context = {"site_name": settings.SITE_NAME, "site_root": absolute("/"), **context}
    with translation.override(language or translation.get_language() or settings.LANGUAGE_CODE):
        subject = render_to_string(f"proxies/email/{template}_subject.txt", context)
        body = render_to_string(f"proxies/email/{template}_body.txt", context)
    return EmailMessage(" ".join(subject.split()), body, settings.DEFAULT_FROM_EMAIL, [to])


def invitation_email(invitation: ProxyInvitation) -> EmailMessage:
    accept_url = absolute(reverse("proxies:invitation", args=[invitation_token(invitation)]))
    labels = [Scope(scope).label for scope in Scope.values if scope in invitation.scope_set]
    context = {"invitation": invitation, "accept_url": accept_url, "scope_labels": labels}
    return _message("invitation", context, invitation.email)


def request_approved_email(proxy_request: ProxyRequest) -> EmailMessage:
    context = {"proxy_request": proxy_request}
    return _message("request_approved", context, proxy_request.requester.email, proxy_request.language)


def request_declined_email(proxy_request: ProxyRequest) -> EmailMessage:
    context = {"proxy_request": proxy_request, "requests_url": absolute(reverse("proxies:my_requests"))}
    return _message("request_declined", context, proxy_request.requester.email, proxy_request.language)
