"""The billing office's workspace: /staff/billing/. Each area keeps its routes in its own module."""

from __future__ import annotations

from portal.billing import staff_urls_account, staff_urls_assistance, staff_urls_disputes, staff_urls_plans

app_name = "staff_billing"
urlpatterns = [
    *staff_urls_account.urlpatterns,
    *staff_urls_plans.urlpatterns,
    *staff_urls_disputes.urlpatterns,
    *staff_urls_assistance.urlpatterns,
]
