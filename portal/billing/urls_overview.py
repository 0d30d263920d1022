"""Billing routes: overview, statements, transactions, guarantor accounts (part of the billing namespace)."""

from __future__ import annotations

from django.urls import path

from portal.billing import views_overview

urlpatterns = [
    path("", views_overview.overview, name="overview"),
    path("statements/", views_overview.statements, name="statements"),
    path("statements/<row_id:statement_id>/", views_overview.statement, name="statement"),
    path("statements/<row_id:statement_id>/pdf/", views_overview.statement_download, name="statement_pdf"),
    path("transactions/", views_overview.transactions, name="transactions"),
    path("accounts/", views_overview.accounts, name="accounts"),
]
