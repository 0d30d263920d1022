"""How billing (overview) reads in the patient's access log."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from portal.audit.vocabulary import register

register("billing.overview_view", _("looked at your billing summary"))
register("billing.statements_view", _("looked at your list of statements"))
register("billing.statement_view", _("looked at one of your statements"))
register("billing.statement_download", _("downloaded one of your statements"))
register("billing.transactions_view", _("looked at your billing transactions"))
register("billing.accounts_view", _("looked at your balance among the accounts they pay for"))
