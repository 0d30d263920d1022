"""The home page's "Test results" card: how many results this user has not opened yet, and the latest."""

from __future__ import annotations

from django.db.models import Exists, OuterRef
from django.http import HttpRequest
from django.utils.translation import gettext as _

from portal.dashboard.cards import Card, card_provider
from portal.patients.access import PatientAccess
from portal.patients.models import Scope
from portal.records.access import visible_reports
from portal.records.models import ResultSeen


@card_provider
def new_results(request: HttpRequest, access: PatientAccess) -> Card | None:
    """Three queries whatever the history: the release preferences, the latest report, the count."""
    if not access.allows(Scope.VIEW):
        return None
    reports = visible_reports(access).annotate(
        seen=Exists(ResultSeen.objects.filter(user=access.user, report=OuterRef("pk")))
    )
    latest = reports.order_by("-effective_at", "-id").first()
    if latest is None:
        return None
    context = {"latest": latest, "new_count": reports.filter(seen=False).count()}
    return Card(_("Test results"), "records/cards/new_results.html", context, order=30)
