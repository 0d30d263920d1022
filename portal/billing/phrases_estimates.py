"""How billing (estimates and disputes) reads in the patient's access log."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from portal.audit.vocabulary import register

register("billing.estimates_view", _("looked at your cost estimates"))
register("billing.estimate_view", _("looked at a cost estimate"))
register("billing.estimate_save", _("saved a cost estimate"))
register("billing.disputes_view", _("looked at your bill disputes"))
register("billing.dispute_view", _("looked at a bill dispute"))
register("billing.dispute_new_view", _("looked at a bill to dispute it"))
register("billing.dispute_open", _("disputed a bill"))
register("billing.dispute_staff_view", _("reviewed a bill dispute"))
register("billing.dispute_decide", _("decided a bill dispute"))
register("billing.dispute_queue_view", _("looked at the bill disputes queue"))
