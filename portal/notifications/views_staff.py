"""Staff notifications in the workspace: new messages in a pool, overdue threads and the like.

Each member of staff sees only their own (`for_staff=True`); anything else, including a
notification of theirs from the patient side, is the same 404 as a missing one.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from portal.accounts.models import signed_in_user
from portal.audit.actor import Actor
from portal.lib.paging import keyset_page
from portal.notifications import actions
from portal.notifications.models import Notification
from portal.staff.decorators import staff_page

PAGE_SIZE = 25


@staff_page
@require_safe
def notification_list(request: HttpRequest) -> HttpResponse:
    own = Notification.objects.filter(recipient=signed_in_user(request), for_staff=True)
    page = keyset_page(own, request.GET.get("before"), PAGE_SIZE)
    return render(request, "notifications/staff_list.html", {"page": page})


@staff_page
@require_POST
def open_notification(request: HttpRequest, notification_id: int) -> HttpResponse:
    """Mark a notification read and follow its link into the workspace."""
    notification = Notification.objects.filter(
        pk=notification_id, recipient=signed_in_user(request), for_staff=True
    ).first()
    if notification is None:
        raise Http404
    actions.do_mark_staff_notification_read(Actor.from_request(request), notification)
    target = notification.link
    if not target or not url_has_allowed_host_and_scheme(target, allowed_hosts=None):
        target = "staff_notifications:list"
    return redirect(target)


@staff_page
@require_POST
def mark_all_read(request: HttpRequest) -> HttpResponse:
    actions.do_mark_all_staff_notifications_read(Actor.from_request(request), signed_in_user(request))
    messages.success(request, _("All notifications are marked as read."))
    return redirect("staff_notifications:list")
