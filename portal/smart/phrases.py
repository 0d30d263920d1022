"""How apps' access reads in the patient's access log."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from portal.audit.vocabulary import register

register("smart.authorize", _("allowed an app to read the record"))
register("smart.revoke", _("disconnected an app"))
register("fhir.read", _("the app “%(app)s” read %(resource)s data"))
register("fhir.search", _("the app “%(app)s” searched %(resource)s data (%(count)s found)"))
register("smart.app_register", _("asked to register an app"))
register("smart.app_secret", _("made a new client secret for an app"))
register("smart.app_approve", _("approved an app"))
register("smart.app_reject", _("turned down an app"))
register("smart.app_suspend", _("suspended an app"))
register("fhir.refused", _("the app “%(app)s” asked for something it may not read and was refused"))
