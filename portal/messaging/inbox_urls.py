"""The staff inbox: /staff/inbox/."""

from __future__ import annotations

from django.urls import URLPattern, path

import portal.lib.converters  # noqa: F401  (registers row_id)
from portal.messaging import views_inbox, views_inbox_actions

app_name = "inbox"
urlpatterns: list[URLPattern] = [
    path("", views_inbox.queue, name="queue"),
    path("mine/", views_inbox.mine, name="mine"),
    path("threads/<row_id:thread_id>/", views_inbox.thread, name="thread"),
    path("threads/<row_id:thread_id>/reply/", views_inbox_actions.reply, name="reply"),
    path("threads/<row_id:thread_id>/note/", views_inbox_actions.note, name="note"),
    path("threads/<row_id:thread_id>/assign/", views_inbox_actions.assign, name="assign"),
    path("threads/<row_id:thread_id>/status/", views_inbox_actions.set_status, name="status"),
    path("threads/<row_id:thread_id>/move/", views_inbox_actions.move, name="move"),
    path("threads/<row_id:thread_id>/confidential/", views_inbox_actions.set_sensitivity, name="sensitivity"),
    path("attachments/<row_id:attachment_id>/", views_inbox.attachment, name="attachment"),
    path("patients/<row_id:patient_id>/write/", views_inbox.start, name="start"),
]
