"""Log records: JSON lines in production, plain text elsewhere, each stamped with the
request id and scrubbed of secrets before any handler writes it.

`settings.LOGGING` comes from `logging_config`; the filters sit on the handler, so they
see every record, including Django's and other libraries'.
"""

from __future__ import annotations

import logging
from typing import Any

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter as BaseJsonFormatter

from portal.core.observability import requestid
from portal.core.observability.redact import MASK, is_secret_name, redact_text, redact_value

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
# Attributes of every LogRecord, which are not a caller's `extra`.
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "request_id"}


class RequestIdFilter(logging.Filter):
    """Stamp each record with the id of the request it was logged in ("-" outside one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        # Django logs 4xx and 5xx responses after the whole middleware chain has returned;
        # those records carry the request, which carries its id.
        attached = getattr(getattr(record, "request", None), requestid.ATTRIBUTE, None)
        record.request_id = requestid.current.get() or attached or "-"
        return True


class RedactFilter(logging.Filter):
    """Mask secrets in a record's message, arguments, extras and traceback, and put the
    route pattern where Django's request loggers put the raw path (paths hold ids and
    shared-link tokens)."""

    def filter(self, record: logging.LogRecord) -> bool:
        _replace_raw_path(record)
        if isinstance(record.msg, str):
            record.msg = redact_text(record.msg)
        elif isinstance(record.msg, dict):
            record.msg = redact_value(record.msg)
        if record.args:
            record.args = _redacted_args(record.args)
        for name in set(record.__dict__) - _STANDARD:
            if is_secret_name(name):
                setattr(record, name, MASK)
        # Exception messages can quote values (a failed form, a database error's DETAIL).
        # The text formatter prints a record's exc_text when it has one, so render the
        # traceback now, scrubbed; the JSON formatter scrubs its own rendering.
        if record.exc_info:
            record.exc_text = redact_text(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        return True


def _redacted_args(args: Any) -> Any:
    if isinstance(args, dict):
        return redact_value(args)
    # Numbers stay numbers so "%d" still formats; the rest become scrubbed text.
    return tuple(arg if isinstance(arg, bool | int | float) else redact_value(arg) for arg in args)


def _replace_raw_path(record: logging.LogRecord) -> None:
    """django.request and django.security log `request.path` (unicode-escaped) as an argument."""
    request = getattr(record, "request", None)
    path = getattr(request, "path", None)
    if not isinstance(path, str) or not isinstance(record.args, tuple):
        return
    from portal.core.observability.middleware import route_of

    raw = {path, path.encode("unicode_escape").decode("ascii")}
    record.args = tuple(route_of(request) if arg in raw else arg for arg in record.args)  # type: ignore[arg-type]


class JsonFormatter(BaseJsonFormatter):
    """One JSON object a line: time, level, logger, message, request id and any `extra`.

    The request object Django attaches to its own records is left out: its text form
    carries the full path and query string.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            ["levelname", "name", "message", "request_id"],
            rename_fields={"levelname": "level", "name": "logger"},
            reserved_attrs=[*RESERVED_ATTRS, "request", "server_time"],
            timestamp="time",
            **kwargs,
        )

    def formatException(self, ei: Any) -> str:
        # A string: this formatter never sets exc_info_as_array.
        return redact_text(str(super().formatException(ei)))


def logging_config(*, json: bool, level: str) -> dict[str, Any]:
    """The `LOGGING` setting: one stderr handler for everything, JSON or text."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "request_id": {"()": "portal.core.observability.logs.RequestIdFilter"},
            "redact": {"()": "portal.core.observability.logs.RedactFilter"},
        },
        "formatters": {
            "json": {"()": "portal.core.observability.logs.JsonFormatter"},
            "text": {"format": TEXT_FORMAT},
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                # On the handler as well as the root: a logger set lower below (django's
                # INFO) must not slip its records past LOG_LEVEL.
                "level": level,
                "formatter": "json" if json else "text",
                "filters": ["request_id", "redact"],
            },
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # Django's defaults give these loggers handlers of their own; here everything
            # goes through the one handler above (and so through its filters).
            "django": {"handlers": [], "level": "INFO", "propagate": True},
            # runserver's request lines carry the query string; the portal's access log
            # (portal.access) replaces them.
            "django.server": {"handlers": [], "level": "WARNING", "propagate": True},
            # SQL with its parameters (names, results) is never logged, even at DEBUG.
            "django.db.backends": {"handlers": [], "level": "INFO", "propagate": True},
        },
    }
