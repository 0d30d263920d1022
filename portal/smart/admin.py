"""App registrations in Django admin, read-only: staff decide them at /staff/apps/, where decisions are audited.

Patient authorizations and token bindings are patient data and stay out of the admin.
"""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from portal.smart.models import AppRegistration


@admin.register(AppRegistration)
class AppRegistrationAdmin(admin.ModelAdmin[AppRegistration]):
    list_display = ("name", "developer", "client_type", "status", "created_at", "reviewed_at")
    list_filter = ("status", "client_type")
    search_fields = ("name", "developer__username")
    readonly_fields = [field.name for field in AppRegistration._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AppRegistration | None = None) -> bool:
        return False
