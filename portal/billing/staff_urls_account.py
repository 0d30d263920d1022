"""Staff billing routes: home, patient accounts (part of the staff_billing namespace, see staff_urls.py)."""

from __future__ import annotations

from django.urls import path

from portal.billing import staff_views_account, staff_views_account_forms

patient = "patients/<row_id:patient_id>/"

urlpatterns = [
    path("", staff_views_account.home, name="home"),
    path(patient, staff_views_account.account, name="account"),
    path(f"{patient}guarantor/", staff_views_account_forms.guarantor, name="guarantor"),
    path(f"{patient}charges/new/", staff_views_account_forms.charge, name="charge"),
    path(f"{patient}adjustments/new/", staff_views_account_forms.adjustment, name="adjustment"),
    path(f"{patient}statements/new/", staff_views_account_forms.statement, name="statement_new"),
    path(f"{patient}claims/new/", staff_views_account_forms.claim, name="claim_new"),
    path(
        f"{patient}coverages/<row_id:coverage_id>/",
        staff_views_account_forms.coverage,
        name="coverage",
    ),
    path(
        f"{patient}coverages/<row_id:coverage_id>/reject/",
        staff_views_account_forms.reject_coverage,
        name="coverage_reject",
    ),
    path("payments/<row_id:payment_id>/refund/", staff_views_account_forms.refund, name="refund"),
]
