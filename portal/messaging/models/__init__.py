"""The messaging app's models: threads and their messages, refill and referral requests."""

from portal.messaging.models.requests import Pharmacy, Referral, RefillItem, RefillRequest
from portal.messaging.models.threads import (
    Attachment,
    Message,
    ReplyTemplate,
    StaffNote,
    Thread,
    Topic,
)

__all__ = [
    "Attachment",
    "Message",
    "Pharmacy",
    "Referral",
    "RefillItem",
    "RefillRequest",
    "ReplyTemplate",
    "StaffNote",
    "Thread",
    "Topic",
]
