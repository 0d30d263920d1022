"""Counting failed sign-ins for the metrics (the audit trail and the throttle have their
own receivers in portal/accounts/signals.py)."""

from __future__ import annotations

from typing import Any

from allauth.mfa import signals as mfa_signals
from django.contrib.auth.signals import user_login_failed
from django.dispatch import receiver

from portal.core.observability import metrics


# allauth checks passwords with django.contrib.auth's authenticate(), which sends this.
@receiver(user_login_failed, dispatch_uid="portal.metrics.failed_password")
def count_failed_password(sender: Any, **kwargs: Any) -> None:
    metrics.failed_sign_ins.labels("password").inc()


@receiver(mfa_signals.authentication_failed, dispatch_uid="portal.metrics.failed_second_factor")
def count_failed_second_factor(sender: Any, **kwargs: Any) -> None:
    metrics.failed_sign_ins.labels("second_factor").inc()
