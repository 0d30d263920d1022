"""A read-only view of the audit trail for the privacy office: flagged events first."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from portal.audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin[AuditEvent]):
    list_display = [
        "sequence",
        "occurred_at",
        "actor_label",
        "actor_role",
        "action",
        "outcome",
        "patient_id",
        "flagged",
    ]
    list_filter = ["flagged", "kind", "outcome", "actor_role"]
    search_fields = ["action", "actor_label"]
    ordering = ["-sequence"]
    show_full_result_count = False  # counting millions of rows on every page is slow

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
