"""Billing routes: estimates (part of the billing namespace, see urls.py)."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
