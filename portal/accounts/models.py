from __future__ import annotations

from django.contrib.auth.models import AbstractUser
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
