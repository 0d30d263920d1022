from __future__ import annotations

from django.apps import AppConfig


class RecordsConfig(AppConfig):
    """The medical record: results, imaging, notes, medications, allergies, immunizations,
    problems, visits and documents; release rules, sharing and correction requests."""

    name = "portal.records"
    label = "records"
