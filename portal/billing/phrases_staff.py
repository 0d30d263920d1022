"""How billing (staff) reads in the patient's access log."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from portal.audit.vocabulary import register

register("billing.staff_account_view", _("looked at your billing account"))
register("billing.staff_guarantor", _("changed who pays your bills"))
register("billing.staff_charge", _("added a charge to your bill"))
register("billing.staff_adjustment", _("lowered your balance with an adjustment"))
register("billing.staff_refund_start", _("started a refund of your payment"))
register("billing.staff_refund", _("refunded your payment"))
register("billing.staff_statement", _("sent you a statement"))
register("billing.staff_coverage_view", _("looked at your insurance details"))
register("billing.staff_coverage_verify", _("checked your insurance"))
register("billing.staff_coverage_reject", _("could not verify your insurance"))
register("billing.staff_claim", _("recorded an insurance claim"))
