"""Systems allowed to send files to the record."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class InterfaceClient(models.Model):
    """An interface engine (a lab, a radiology system) that posts files to /interfaces/import.

    It proves itself with a bearer token shown once when made (`portal interface_token`);
    only the token's SHA-256 is kept, so a lost token is replaced, never recovered.
    """

    name = models.CharField(_("name"), max_length=100, unique=True)
    token_digest = models.CharField(max_length=64, unique=True)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
