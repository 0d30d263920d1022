from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from portal.core import pwa
from portal.core import views as core_views
from portal.core.csp_report import csp_report
from portal.core.observability import views as observability_views

urlpatterns = [
    path("healthz", core_views.healthz, name="healthz"),
    path("readyz", observability_views.readyz, name="readyz"),
    path("metrics", observability_views.metrics, name="metrics"),
    path("csp-report/", csp_report, name="csp_report"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("manifest.webmanifest", pwa.manifest, name="manifest"),
    path("service-worker.js", pwa.service_worker, name="service_worker"),
    path("offline/", pwa.offline, name="offline"),
    # allauth's sign-out, also clearing what the installable app stored (before allauth's URLs).
    path("accounts/logout/", pwa.sign_out, name="account_logout"),
    path("accounts/", include("portal.accounts.urls")),
    path("accounts/", include("allauth.urls")),
    path("staff/", include("portal.staff.urls")),
    path("staff/registration/", include("portal.registration.staff_urls")),
    path("register/", include("portal.registration.urls")),
    path("notifications/", include("portal.notifications.urls")),
    path("record-access/", include("portal.audit.urls")),
    path("proxies/", include("portal.proxies.urls")),
    path("profile/", include("portal.patients.urls")),
    path("record/", include("portal.records.urls")),
    path("record/sharing/", include("portal.records.share_urls")),
    path("record/download/", include("portal.records.export_urls")),
    path("record/corrections/", include("portal.records.amendment_urls")),
    path("shared/", include("portal.records.shared_urls")),
    path("staff/records/", include("portal.records.staff_urls")),
    path("interfaces/", include("portal.fhir.interface_urls")),
    path("appointments/book/", include("portal.scheduling.booking_urls")),
    path("appointments/requests/", include("portal.scheduling.request_urls")),
    path("appointments/earlier/", include("portal.scheduling.waitlist_urls")),
    path("appointments/check-in/", include("portal.scheduling.checkin_urls")),
    path("appointments/", include("portal.scheduling.urls")),
    path("staff/desk/", include("portal.scheduling.staff_desk_urls")),
    path("staff/schedules/", include("portal.scheduling.staff_schedule_urls")),
    path("messages/refills/", include("portal.messaging.refill_urls")),
    path("messages/", include("portal.messaging.urls")),
    path("referrals/", include("portal.messaging.referral_urls")),
    path("staff/inbox/", include("portal.messaging.inbox_urls")),
    path("staff/refills/", include("portal.messaging.staff_refill_urls")),
    path("staff/referrals/", include("portal.messaging.staff_referral_urls")),
    path("billing/", include("portal.billing.urls")),
    path("staff/billing/", include("portal.billing.staff_urls")),
    path("video/", include("portal.telehealth.urls_video")),
    path("video/", include("portal.telehealth.urls_video_api")),
    path("staff/video/", include("portal.telehealth.staff_urls_video")),
    path("e-visits/", include("portal.telehealth.urls_evisits")),
    path("staff/e-visits/", include("portal.telehealth.staff_urls_evisits")),
    path("fhir/r4/", include("portal.fhir.api.urls")),
    path("oauth/", include("portal.smart.urls")),
    path("apps/", include("portal.smart.urls_apps")),
    path("developers/", include("portal.smart.urls_developers")),
    path("staff/apps/", include("portal.smart.staff_urls")),
    path("staff/bulk/", include("portal.bulk.staff_urls")),
    path("staff/notifications/", include("portal.notifications.staff_urls")),
    path("demo/mailbox/", include("portal.notifications.mailbox_urls")),
    path("admin/", admin.site.urls),
    path("", include("portal.healthcards.urls")),
    path("", include("portal.dashboard.urls")),
]

handler404 = "portal.core.errors.not_found"
handler500 = "portal.core.errors.server_error"
handler403 = "portal.core.errors.forbidden"
handler400 = "portal.core.errors.bad_request"

# The sandbox card processor's own pages exist only where it is the configured gateway
# (never in production: settings refuse it there).
if settings.PORTAL_PAYMENT_GATEWAY == "sandbox":
    urlpatterns.insert(0, path("billing/sandbox-gateway/", include("portal.billing.gateways.sandbox.urls")))
