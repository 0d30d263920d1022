"""Patient-side billing: /billing/. Each area keeps its routes in its own module."""

from __future__ import annotations

from portal.billing import (
    urls_estimates,
    urls_insurance,
    urls_overview,
    urls_pay,
    urls_plans,
)

app_name = "billing"
urlpatterns = [
    *urls_overview.urlpatterns,
    *urls_pay.urlpatterns,
    *urls_plans.urlpatterns,
    *urls_estimates.urlpatterns,
    *urls_insurance.urlpatterns,
]
