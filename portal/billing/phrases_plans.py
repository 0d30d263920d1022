"""How billing (plans) reads in the patient's access log."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from portal.audit.vocabulary import register

register("billing.plan_create", _("set up a payment plan"))
register("billing.plan_card", _("changed the card of a payment plan"))
register("billing.plan_cancel", _("cancelled a payment plan"))
register("billing.plan_complete", _("closed a paid-off payment plan"))
register("billing.plan_instalment", _("took a payment plan instalment"))
register("billing.plans_view", _("viewed payment plans"))
register("billing.plan_view", _("viewed a payment plan"))
register("billing.plan_new_view", _("viewed the payment plan options"))
register("billing.plan_cancel_view", _("viewed a payment plan before cancelling it"))
