"""The clinician's video visit forms: inviting a second clinician or an interpreter."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from portal.organization.models import Practitioner
from portal.patients.models import ProxyGrant
from portal.scheduling.models import Appointment
from portal.telehealth.models import Participant

# Who can be asked to join a visit: clinicians and interpreters. Administrators, schedulers
# and billing staff are not (`video.do_invite` refuses them too).
INVITABLE_ROLES = (*Practitioner.CLINICAL_ROLES, Practitioner.Role.INTERPRETER)


def invitable(appointment: Appointment) -> QuerySet[Practitioner]:
    """Active clinicians and interpreters who could join this visit.

    Leaves out the host, anyone already invited or in it, and anyone on the patient's
    side (the patient themself or a proxy), who never take a staff seat in their own
    visit.
    """
    seated = Participant.objects.filter(visit__appointment=appointment).exclude(
        status=Participant.Status.REMOVED
    )
    proxies = ProxyGrant.objects.active().filter(patient_id=appointment.patient_id).values("grantee")
    return (
        Practitioner.objects.filter(
            active=True, role__in=INVITABLE_ROLES, user__isnull=False, user__is_active=True
        )
        .exclude(pk=appointment.practitioner_id)
        .exclude(user__in=seated.values("user"))
        .exclude(user__in=proxies)
        .exclude(user_id=appointment.patient.account_id or 0)
        .order_by("family_name", "given_name", "pk")
    )


class PractitionerChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.display_name} ({obj.get_role_display()})"


class InviteForm(forms.Form):
    practitioner = PractitionerChoice(
        label=_("Clinician or interpreter to invite"),
        queryset=Practitioner.objects.none(),
        empty_label=_("Choose a person"),
        error_messages={
            "required": _("Choose the person to invite."),
            "invalid_choice": _("That person cannot be invited to this visit. Choose someone from the list."),
        },
    )

    def __init__(self, *args: Any, appointment: Appointment, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["practitioner"].queryset = invitable(appointment)  # type: ignore[attr-defined]


class WaitingPollForm(forms.Form):
    """The "Waiting now" poll's query: what the page shows already, and when the page was loaded."""

    seen = forms.RegexField(regex=r"^[0-9a-f]{1,64}$", required=False)
    started = forms.IntegerField(min_value=0, max_value=2**40, required=False)
