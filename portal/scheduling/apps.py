from __future__ import annotations

from django.apps import AppConfig


class SchedulingConfig(AppConfig):
    """Appointments: clinicians' schedules and slots, self-scheduling, requests to each
    campus's scheduling desk, cancel and reschedule, earlier-slot offers, pre-check-in
    and reminders."""

    name = "portal.scheduling"
    label = "scheduling"

    def ready(self) -> None:
        from portal.notifications.outbox import require_scope
        from portal.patients.models import Scope
        from portal.scheduling import (  # noqa: F401  (audit phrases)
            phrases,
            phrases_booking,
            phrases_checkin,
            phrases_desk,
            phrases_requests,
            phrases_schedules,
            phrases_waitlist,
        )

        # Visit news and reminders go only to those who still manage the patient's visits.
        require_scope("scheduling.", Scope.SCHEDULE)
