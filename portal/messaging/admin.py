"""Reply templates in Django admin, for the clinic to maintain.

Conversations, messages, notes and requests are patient data: like the rest of it they
are deliberately not in the admin, where reads would go unaudited and administrators
would see what the access policy keeps from them. Staff work them in the inbox.
"""

from __future__ import annotations

from django.contrib import admin

from portal.messaging.models import ReplyTemplate


@admin.register(ReplyTemplate)
class ReplyTemplateAdmin(admin.ModelAdmin[ReplyTemplate]):
    list_display = ["name", "pool", "active"]
    list_filter = ["active", "pool"]
    search_fields = ["name", "body"]
    fields = ["name", "pool", "body", "active"]
