from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _


class User(AbstractUser):
    """Someone who signs in: a patient, a proxy, or a member of staff.

    A user is not a patient. What a user may see of which patient is decided by
    `portal.patients.access`, from the patient's own account link, proxy grants and
    care relationships.
    """

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.username

    @property
    def is_workforce(self) -> bool:
        """True for members of staff, who work in the staff workspace."""
        return hasattr(self, "practitioner") and self.practitioner.active


def signed_in_user(request: HttpRequest) -> User:
    """The request's user, in a view that only signed-in users reach."""
    user = request.user
    if not isinstance(user, User):
        raise TypeError("This view needs a signed-in user.")
    return user


class SignInThrottle(models.Model):
    """Recent failed sign-ins against one username, or from one client address.

    Kept in the database rather than the cache so that every app server sees the same
    counts without Redis, and a restart does not forgive an attacker. A row is keyed by
    what was typed, not by an account, so an unknown username is slowed and locked
    exactly like a real one and the response never tells them apart.
    """

    class Scope(models.TextChoices):
        ACCOUNT = "account", _("Username")
        ADDRESS = "address", _("Client address")

    scope = models.CharField(max_length=10, choices=Scope.choices)
    key = models.CharField(max_length=150)
    failures = models.PositiveIntegerField(default=0)
    last_failure_at = models.DateTimeField()
    locked_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("sign-in throttle")
        verbose_name_plural = _("sign-in throttles")
        constraints = [models.UniqueConstraint(fields=["scope", "key"], name="sign_in_throttle_scope_key")]

    def __str__(self) -> str:
        return f"{self.scope}:{self.key} ({self.failures})"
