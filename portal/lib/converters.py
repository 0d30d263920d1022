"""URL converters shared by every app; importing this module registers them."""

from __future__ import annotations

from django.urls import register_converter


class RowId:
    """A row id that fits a database integer: longer digit strings are a plain 404, not an overflow."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


class TestCode:
    """A test's code (LOINC, or a lab's local code): up to 40 characters, no slash."""

    regex = r"[^/\x00]{1,40}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(RowId, "row_id")
register_converter(TestCode, "test_code")
