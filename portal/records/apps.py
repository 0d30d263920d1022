from __future__ import annotations

from django.apps import AppConfig


class RecordsConfig(AppConfig):
    """The medical record: results, imaging, notes, medications, allergies, immunizations,
    problems, visits and documents; release rules, sharing and correction requests."""

    name = "portal.records"
    label = "records"

    def ready(self) -> None:
        from portal.records import phrases, share_phrases, staff_phrases  # noqa: F401  (audit phrases)
