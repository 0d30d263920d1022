"""How billing (pay) reads in the patient's access log."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from portal.audit.vocabulary import register

register("billing.pay_view", _("opened the page to pay your bill"))
register("billing.receipt_view", _("looked at a payment receipt"))
register("billing.receipt_download", _("downloaded a payment receipt"))
register("billing.card_save", _("saved a card for paying bills"))
register("billing.card_remove", _("removed a saved card"))
