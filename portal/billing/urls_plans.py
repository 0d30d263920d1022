"""Billing routes: payment plans (part of the billing namespace, see urls.py)."""

from __future__ import annotations

from django.urls import path

import portal.lib.converters  # noqa: F401  (registers row_id)
from portal.billing import views_plans

urlpatterns = [
    path("plans/", views_plans.plan_list, name="plans"),
    path("plans/new/", views_plans.plan_new, name="plan_new"),
    path("plans/<row_id:plan_id>/", views_plans.plan_detail, name="plan"),
    path("plans/<row_id:plan_id>/card/", views_plans.plan_card, name="plan_card"),
    path("plans/<row_id:plan_id>/cancel/", views_plans.plan_cancel, name="plan_cancel"),
]
