from __future__ import annotations

from django.http import HttpRequest
from django.utils.translation import gettext as _

from portal.dashboard.cards import Card, card_provider
from portal.notifications.models import Notification, Task
from portal.patients.access import PatientAccess

SHOWN = 5


@card_provider
def open_tasks(request: HttpRequest, access: PatientAccess) -> Card | None:
    tasks = list(
        Task.objects.filter(patient=access.patient, completed_at__isnull=True).order_by("due_on", "id")[
            : SHOWN + 1
        ]
    )
    if not tasks:
        return None
    return Card(
        _("To do"),
        "notifications/cards/tasks.html",
        {"tasks": tasks[:SHOWN], "more": len(tasks) > SHOWN},
        order=10,
    )


@card_provider
def unread_notifications(request: HttpRequest, access: PatientAccess) -> Card | None:
    unread = list(
        Notification.objects.filter(
            recipient=access.user, patient=access.patient, for_staff=False, read_at__isnull=True
        ).order_by("-created_at", "-id")[: SHOWN + 1]
    )
    if not unread:
        return None
    context = {"notifications": unread[:SHOWN], "more": len(unread) > SHOWN}
    return Card(_("Notifications"), "notifications/cards/unread.html", context, order=20)
