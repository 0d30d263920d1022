from __future__ import annotations

from django.apps import AppConfig


class OrganizationConfig(AppConfig):
    name = "portal.organization"
    label = "organization"
