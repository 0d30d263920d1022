"""The id that ties together every log line of one request, and the proxy's logs with ours."""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

HEADER = "X-Request-ID"
# Also kept on the request itself, for what is logged after the middleware has returned.
ATTRIBUTE = "request_id"
# Tight enough that an id from outside can never carry a new line, quote or markup into
# a log line, loose enough for the usual proxy formats (hex, UUIDs, nginx's $request_id).
VALID = re.compile(r"[A-Za-z0-9._-]{1,64}")

# Set by the middleware for the length of a request; contextvars follow the request into
# asgiref's threads under ASGI as well as staying per-thread under WSGI.
current: ContextVar[str | None] = ContextVar("portal_request_id", default=None)


def accept_or_new(incoming: str | None) -> str:
    """The proxy's id when it is a safe one, else a fresh random id."""
    if incoming and VALID.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex
