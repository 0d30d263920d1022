"""Staff billing routes: payment plans (part of the staff_billing namespace, see staff_urls.py)."""

from __future__ import annotations

from django.urls import path

import portal.lib.converters  # noqa: F401  (registers row_id)
from portal.billing import staff_views_plans

urlpatterns = [
    path("patients/<row_id:patient_id>/plans/new/", staff_views_plans.plan_new, name="plan_new"),
    path("plans/<row_id:plan_id>/", staff_views_plans.plan_detail, name="plan"),
    path("plans/<row_id:plan_id>/cancel/", staff_views_plans.plan_cancel, name="plan_cancel"),
]
