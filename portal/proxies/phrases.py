"""How proxy events read in the patient's access log."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from portal.audit.vocabulary import register

register("proxy.end", _("ended their own access to your account"))
register("proxy.invite", _("invited someone to share your account"))
register("proxy.invitation_cancel", _("cancelled an invitation to share your account"))
register("proxy.invitation_accept", _("accepted an invitation to share your account"))
register("proxy.invitation_decline", _("declined an invitation to share your account"))
register("proxy.request", _("asked for access to your record as a parent or guardian"))
register("proxy.request_approve", _("approved a parent's or guardian's request for access to your record"))
register("proxy.request_decline", _("declined a request for access to your record"))
register("proxy.document_view", _("opened a document that supports access to your record"))
register("proxy.request_view", _("looked at a request for access to your record"))
