"""Template filters for conversations: safe message text, labelled times, patient-facing status.

Message bodies are plain text from patients and staff. `message_text` escapes all of
it first and only then turns http(s) addresses into links, so no markup anyone types
ever reaches the page, and `javascript:` or `data:` addresses stay plain text.
"""

from __future__ import annotations

import datetime as dt
import re

from django import template
from django.utils import formats, timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from portal.lib import campus_time
from portal.messaging.models import Attachment, Thread
from portal.organization.models import Campus

register = template.Library()

# Only web addresses with an explicit scheme: a bare "example.com" or an email address
# stays text, so what becomes a link is exactly what the writer typed as one.
_LINK = re.compile(r"\bhttps?://[^\s<>\"'`]+", re.IGNORECASE)
_TRAILING = ".,;:!?*'\""
LINK_REL = "noopener noreferrer nofollow"


def _trim(url: str) -> tuple[str, str]:
    """Split trailing punctuation (and an unmatched closing bracket) off a found address."""
    tail = ""
    while url:
        last = url[-1]
        if last in _TRAILING or (last == ")" and url.count(")") > url.count("(")):
            tail = last + tail
            url = url[:-1]
        else:
            break
    return url, tail


def _link(url: str) -> str:
    return f'<a href="{escape(url)}" rel="{LINK_REL}">{escape(url)}</a>'


@register.filter(is_safe=True)
def message_text(value: object) -> SafeString:
    """Plain text as HTML: everything escaped, http(s) addresses linked, line breaks kept."""
    text = str(value or "").replace("\r\n", "\n").replace("\r", "\n")
    parts: list[str] = []
    position = 0
    for found in _LINK.finditer(text):
        url, tail = _trim(found.group(0))
        parts.append(escape(text[position : found.start()]))
        parts.append(_link(url) if "://" in url and len(url) > len("https://") else escape(url))
        parts.append(escape(tail))
        position = found.end()
    parts.append(escape(text[position:]))
    html = "".join(parts).replace("\n", "<br>\n")
    return mark_safe(html)  # noqa: S308  every piece above is escaped or built from escaped text  # nosec B308, B703


@register.filter
def message_when(value: dt.datetime | None, campus: Campus | None) -> str:
    """When a message was sent, in the conversation's campus time (labelled), else local time."""
    if value is None:
        return ""
    if campus is not None:
        return campus_time.when_label(value, campus)
    return formats.date_format(timezone.localtime(value), "DATETIME_FORMAT")


@register.filter
def message_day(value: dt.datetime | None, campus: Campus | None) -> str:
    """The day of a moment at the conversation's campus (else in local time), for dated lists."""
    if value is None:
        return ""
    if campus is not None:
        return campus_time.date_label(value, campus)
    return formats.date_format(timezone.localtime(value), "DATE_FORMAT")


PATIENT_STATUS = {
    Thread.Status.NEW: "waiting",
    Thread.Status.IN_PROGRESS: "waiting",
    Thread.Status.WAITING_ON_PATIENT: "answered",
    Thread.Status.CLOSED: "closed",
}


@register.filter
def patient_status(thread: Thread) -> str:
    """The thread's status in the patient's words."""
    words = {
        "waiting": _("Waiting for the care team"),
        "answered": _("Answered"),
        "closed": _("Closed"),
    }
    return words[PATIENT_STATUS.get(thread.status, "waiting")]  # type: ignore[call-overload]


@register.filter
def patient_status_key(thread: Thread) -> str:
    """A stable key for styling the status badge (the badge also says it in words)."""
    return PATIENT_STATUS.get(thread.status, "waiting")  # type: ignore[call-overload]


@register.filter
def attachment_kind(attachment: Attachment) -> str:
    """ "PDF document", "JPEG image" or "PNG image": what the file was checked to be."""
    kinds = {
        "application/pdf": _("PDF document"),
        "image/jpeg": _("JPEG image"),
        "image/png": _("PNG image"),
    }
    return kinds.get(attachment.content_type, _("File"))
