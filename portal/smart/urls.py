"""The OAuth 2.0 / OpenID Connect authorization server for SMART apps (/oauth/)."""

from __future__ import annotations

from django.urls import path
from oauth2_provider import views as oauth_views

from portal.bulk import token as bulk_token
from portal.smart import discovery, introspection, views_authorize

app_name = "smart"
urlpatterns = [
    path("authorize/", views_authorize.authorize, name="authorize"),
    path("token/", bulk_token.token, name="token"),
    path("revoke/", oauth_views.RevokeTokenView.as_view(), name="revoke"),
    path("introspect/", introspection.introspect, name="introspect"),
    path("jwks/", oauth_views.JwksInfoView.as_view(), name="jwks"),
    path(".well-known/smart-configuration", discovery.smart_configuration, name="smart_configuration"),
    path(".well-known/openid-configuration", discovery.openid_configuration, name="openid_configuration"),
]
