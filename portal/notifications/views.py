from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from portal.audit.actor import Actor
from portal.lib.paging import keyset_page
from portal.notifications import actions
from portal.notifications.models import Notification, Task
from portal.patients.access import PatientAccess, require_object
from portal.patients.selection import patient_page

PAGE_SIZE = 25


@patient_page(scope=None)
def notification_list(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    # Staff notifications belong to the staff workspace, even when they concern this patient.
    notifications = Notification.objects.filter(
        recipient=access.user, patient=access.patient, for_staff=False
    )
    page = keyset_page(notifications, request.GET.get("before"), PAGE_SIZE)
    return render(request, "notifications/list.html", {"access": access, "page": page})


@patient_page(scope=None)
@require_POST
def open_notification(request: HttpRequest, access: PatientAccess, notification_id: int) -> HttpResponse:
    """Mark a notification read and follow its link."""
    notification, notification_access = require_object(
        request,
        Notification.objects.filter(recipient=access.user, for_staff=False),
        scope=None,
        pk=notification_id,
    )
    actions.do_mark_notification_read(Actor.from_request(request), notification_access, notification)
    target = notification.link
    if not target or not url_has_allowed_host_and_scheme(target, allowed_hosts=None):
        target = "notifications:list"
    return redirect(target)


@patient_page(scope=None)
@require_POST
def mark_all_read(request: HttpRequest, access: PatientAccess) -> HttpResponse:
    actions.do_mark_all_notifications_read(Actor.from_request(request), access)
    messages.success(request, _("All notifications are marked as read."))
    return redirect("notifications:list")


@patient_page(scope=None)
@require_POST
def complete_task(request: HttpRequest, access: PatientAccess, task_id: int) -> HttpResponse:
    task, task_access = require_object(request, Task.objects.all(), scope=None, pk=task_id)
    if task.patient_id != access.patient.pk:
        # Tasks are done for the patient being viewed; a task of another patient the
        # user also acts for is completed after switching to them.
        return redirect("home")
    actions.do_complete_task(Actor.from_request(request), task_access, task)
    messages.success(request, _("Marked “%(title)s” as done.") % {"title": task.title})
    return redirect("home")
