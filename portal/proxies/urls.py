from __future__ import annotations

from django.urls import path

from portal.proxies import views

app_name = "proxies"
urlpatterns = [
    path("", views.sharing, name="sharing"),
    path("invite/", views.invite, name="invite"),
    path("grants/<int:grant_id>/revoke/", views.revoke, name="revoke"),
    path("grants/<int:grant_id>/end/", views.end_own_access, name="end_own_access"),
    path("invitations/<int:invitation_id>/cancel/", views.cancel_invitation, name="cancel_invitation"),
    path("invitations/accept/<str:token>/", views.invitation, name="invitation"),
    path("invitations/accept/<str:token>/answer/", views.answer_invitation, name="answer_invitation"),
    path("request/", views.request_access, name="request_access"),
    path("requests/", views.my_requests, name="my_requests"),
    path("staff/requests/", views.staff_queue, name="staff_queue"),
    path("staff/requests/<int:request_id>/", views.staff_request, name="staff_request"),
    path("staff/documents/<int:document_id>/", views.staff_document, name="staff_document"),
    path(
        "staff/patients/<int:patient_id>/legal-representative/",
        views.staff_legal_representative,
        name="staff_legal_representative",
    ),
]
