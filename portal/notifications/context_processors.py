"""The bell's unread counts, for the page header.

Each count is one indexed query capped at `CAP + 1` rows (so "9+" costs the same as
"3" however many notifications pile up), and is run only when a template draws that
bell: `notification_bell` on patient pages (the user's notifications about the patient
being viewed), `staff_bell` in the staff workspace (their staff notifications). Pages
that draw no bell, such as partial updates, run no query at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from portal.notifications.models import Notification
from portal.patients.selection import SESSION_KEY, choose

CAP = 9


@dataclass(frozen=True)
class Bell:
    """How many unread notifications to show, up to `CAP` and then "9+"."""

    count: int
    cap: int = CAP

    @property
    def more(self) -> bool:
        return self.count > self.cap

    @property
    def shown(self) -> str:
        return f"{self.cap}+" if self.more else str(self.count)


def capped(unread: QuerySet[Notification]) -> Bell:
    return Bell(len(unread.values_list("pk", flat=True)[: CAP + 1]))


def bells(request: HttpRequest) -> dict[str, Any]:
    """Context processor: the lazily counted bells for the signed-in user."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    context: dict[str, Any] = {}
    # Set by `@patient_page` once it has chosen the patient being viewed.
    accesses = getattr(request, "portal_accesses", None)
    if accesses:
        access = choose(accesses, request.session.get(SESSION_KEY))
        if access is not None:
            patient = access.patient
            context["notification_bell"] = SimpleLazyObject(
                lambda: capped(
                    Notification.objects.filter(
                        recipient=user, patient=patient, for_staff=False, read_at__isnull=True
                    )
                )
            )
    # Drawn only by the staff workspace's header, which only staff see.
    context["staff_bell"] = SimpleLazyObject(
        lambda: capped(Notification.objects.filter(recipient=user, for_staff=True, read_at__isnull=True))
    )
    return context
