"""Telehealth's tables: video visits and their signaling, and e-visits."""

from portal.telehealth.models.evisits import EVisit, EVisitCondition, EVisitPhoto
from portal.telehealth.models.video import ChatLine, Participant, Signal, VideoVisit

__all__ = ["ChatLine", "EVisit", "EVisitCondition", "EVisitPhoto", "Participant", "Signal", "VideoVisit"]
