from __future__ import annotations

from django.apps import AppConfig


class MessagingConfig(AppConfig):
    """Secure messages between patients and their care team's staff pools, with
    attachments; prescription refill and referral requests; the staff inbox."""

    name = "portal.messaging"
    label = "messaging"

    def ready(self) -> None:
        from portal.messaging import (  # noqa: F401  (audit phrases)
            phrases,
            phrases_inbox,
            phrases_referrals,
            phrases_refills,
        )
