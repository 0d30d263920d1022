from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from portal.core import views as core_views

urlpatterns = [
    path("healthz", core_views.healthz, name="healthz"),
    path("readyz", core_views.readyz, name="readyz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/", include("portal.accounts.urls")),
    path("accounts/", include("allauth.urls")),
    path("staff/", include("portal.staff.urls")),
    path("staff/registration/", include("portal.registration.staff_urls")),
    path("register/", include("portal.registration.urls")),
    path("notifications/", include("portal.notifications.urls")),
    path("record-access/", include("portal.audit.urls")),
    path("proxies/", include("portal.proxies.urls")),
    path("profile/", include("portal.patients.urls")),
    path("admin/", admin.site.urls),
    path("", include("portal.dashboard.urls")),
]

handler404 = "portal.core.errors.not_found"
handler500 = "portal.core.errors.server_error"
handler403 = "portal.core.errors.forbidden"
handler400 = "portal.core.errors.bad_request"
