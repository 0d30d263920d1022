"""The one shape of a refusal in billing: nothing changed, and `message` says why, for whoever asked."""

from __future__ import annotations


class Refused(Exception):
    """A billing rule said no. Nothing was written; `message` is shown as it is."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
