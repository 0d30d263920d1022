"""Password rules beyond Django's own."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.password_validation import CommonPasswordValidator
from django.core.exceptions import ValidationError
from django.utils.translation import ngettext

from portal.accounts.backends import is_published_password


class MaximumLengthValidator:
    """Long passphrases are welcome; only absurd lengths are refused, as a guard on the hasher."""

    def __init__(self, max_length: int = 1024) -> None:
        self.max_length = max_length

    def validate(self, password: str, user: Any = None) -> None:
        if len(password) > self.max_length:
            raise ValidationError(self._message(), code="password_too_long")

    def get_help_text(self) -> str:
        return self._message()

    def _message(self) -> str:
        return ngettext(
            "Your password can be up to %(max_length)d character long.",
            "Your password can be up to %(max_length)d characters long.",
            self.max_length,
        ) % {"max_length": self.max_length}


class CommonOrPublishedPasswordValidator(CommonPasswordValidator):
    """Django's list of common passwords, plus the demo password: it is printed in the
    README, so it is as good as common (same message, same help text)."""

    def validate(self, password: str, user: Any = None) -> None:
        if is_published_password(password):
            raise ValidationError(self.get_error_message(), code="password_too_common")
        super().validate(password, user)
