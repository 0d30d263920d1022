"""Forms of the staff inbox: queue filters, replies, notes, assignment, status, moving a
thread and writing to a patient first.

Every choice is limited to what the user may pick (their pools, the pool's members), so
an id from elsewhere fails as an invalid choice instead of reaching an action.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from portal.accounts.models import User
from portal.lib.uploads import CheckedFile, check_document_or_image
from portal.messaging.confidential import category_field
from portal.messaging.models import Thread, Topic
from portal.messaging.staff_actions import (
    MOVE_REASON_MAX_LENGTH,
    MOVE_REASON_MIN_LENGTH,
    NOTE_MAX_LENGTH,
    staff_name,
)
from portal.organization.models import CareTeam

BODY_MAX_LENGTH = 5000
SEARCH_MAX_LENGTH = 100
OPEN = "open"
ALL = "all"
STATUS_FILTERS: dict[str, tuple[str, ...]] = {
    OPEN: tuple(Thread.OPEN_STATUSES),
    Thread.Status.NEW: (Thread.Status.NEW,),
    Thread.Status.IN_PROGRESS: (Thread.Status.IN_PROGRESS,),
    Thread.Status.WAITING_ON_PATIENT: (Thread.Status.WAITING_ON_PATIENT,),
    Thread.Status.CLOSED: (Thread.Status.CLOSED,),
    ALL: tuple(Thread.Status.values),
}
STATUS_CHOICES = [
    (OPEN, _("Open: new and in progress")),
    *Thread.Status.choices,
    (ALL, _("Every status")),
]
ANYONE, ME, NOBODY = "anyone", "me", "nobody"
ASSIGNED_CHOICES = [(ANYONE, _("Anyone or nobody")), (ME, _("Me")), (NOBODY, _("Nobody yet"))]
AFTER_REPLY_CHOICES = [
    (Thread.Status.WAITING_ON_PATIENT, _("Waiting on the patient")),
    (Thread.Status.IN_PROGRESS, _("Still in progress")),
    (Thread.Status.CLOSED, _("Closed")),
]
CHOOSE = {"invalid_choice": _("Choose one of the options shown.")}


@dataclass(frozen=True)
class QueueFilters:
    """What the queue shows, after any bad value was replaced by its default."""

    statuses: tuple[str, ...] = STATUS_FILTERS[OPEN]
    assigned: str = ANYONE
    topic: str = ""
    overdue: bool = False
    search: str = ""


class QueueFilterForm(forms.Form):
    """The queue's filters; a bad value shows its error and falls back to the default."""

    status = forms.ChoiceField(
        label=_("Status"), choices=STATUS_CHOICES, required=False, error_messages=CHOOSE
    )
    assigned = forms.ChoiceField(
        label=_("Assigned to"), choices=ASSIGNED_CHOICES, required=False, error_messages=CHOOSE
    )
    topic = forms.ChoiceField(
        label=_("Topic"),
        choices=[("", _("Every topic")), *Topic.choices],
        required=False,
        error_messages=CHOOSE,
    )
    q = forms.CharField(
        label=_("Search"),
        help_text=_("Subject, patient name or clinic number."),
        max_length=SEARCH_MAX_LENGTH,
        required=False,
        strip=True,
    )
    overdue = forms.BooleanField(label=_("Overdue only"), required=False)

    def filters(self) -> QueueFilters:
        self.is_valid()
        data = getattr(self, "cleaned_data", {})

        def good(name: str, default: Any) -> Any:
            value = data.get(name) if name not in self.errors else None
            return value or default

        return QueueFilters(
            statuses=STATUS_FILTERS[good("status", OPEN)],
            assigned=good("assigned", ANYONE),
            topic=good("topic", ""),
            overdue=bool(good("overdue", False)),
            search=good("q", ""),
        )


class MultipleFileInput(forms.FileInput):
    allow_multiple_selected = True


class AttachmentsField(forms.FileField):
    """Several files in one input, each checked by its content (`lib/uploads.py`)."""

    widget = MultipleFileInput

    def clean(self, data: Any, initial: Any = None) -> list[CheckedFile]:
        uploads = [upload for upload in (data if isinstance(data, list | tuple) else [data]) if upload]
        if len(uploads) > settings.PORTAL_MESSAGE_MAX_ATTACHMENTS:
            raise ValidationError(
                _("Attach at most %(count)d files.") % {"count": settings.PORTAL_MESSAGE_MAX_ATTACHMENTS}
            )
        checked = []
        for upload in uploads:
            super().clean(upload, initial)
            checked.append(check_document_or_image(upload, settings.PORTAL_MESSAGE_ATTACHMENT_MAX_BYTES))
        return checked


def _body_field(label: Any) -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=BODY_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text=_("The patient and proxies who may message see this. Up to 5,000 characters."),
        error_messages={"required": _("Write the message first.")},
    )


def _attachments_field() -> AttachmentsField:
    return AttachmentsField(
        label=_("Attach files"),
        required=False,
        help_text=_("PDF, JPEG or PNG, up to 5 files."),
        widget=MultipleFileInput(attrs={"accept": "application/pdf,image/jpeg,image/png"}),
    )


class ReplyForm(forms.Form):
    """A reply to the patient, and where the thread stands once it is sent."""

    body = _body_field(_("Reply to the patient"))
    attachments = _attachments_field()
    status = forms.ChoiceField(
        label=_("After sending, the conversation is"),
        choices=AFTER_REPLY_CHOICES,
        initial=Thread.Status.WAITING_ON_PATIENT,
        error_messages=CHOOSE,
    )


class NoteForm(forms.Form):
    """An internal note. Its ids are its own: the thread page also has the reply's `body`."""

    body = forms.CharField(
        label=_("Internal note"),
        max_length=NOTE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Only staff see internal notes: never the patient or their proxies."),
        error_messages={"required": _("Write the note first.")},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "note-%s")
        super().__init__(*args, **kwargs)


class AssignForm(forms.Form):
    assignee = forms.TypedChoiceField(
        label=_("Assign to"), coerce=int, required=False, empty_value=None, error_messages=CHOOSE
    )

    def __init__(self, *args: Any, members: Sequence[User], **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "assign-%s")
        super().__init__(*args, **kwargs)
        self.members = list(members)
        field = cast(forms.TypedChoiceField, self.fields["assignee"])
        field.choices = [("", _("Nobody"))] + [(str(user.pk), staff_name(user)) for user in self.members]

    def clean_assignee(self) -> User | None:
        pk = self.cleaned_data.get("assignee")
        return next((user for user in self.members if user.pk == pk), None)


class StatusForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), choices=Thread.Status.choices, error_messages=CHOOSE)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "status-%s")
        super().__init__(*args, **kwargs)


class MoveForm(forms.Form):
    pool = forms.ModelChoiceField(
        label=_("Move to"),
        queryset=CareTeam.objects.none(),
        empty_label=None,
        error_messages={"invalid_choice": _("Choose one of the teams shown.")},
    )
    reason = forms.CharField(
        label=_("Why it is moving"),
        min_length=MOVE_REASON_MIN_LENGTH,
        max_length=MOVE_REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Kept as an internal note for the team that takes it. The patient does not see it."),
        error_messages={"required": _("Say why the conversation is moving.")},
    )

    def __init__(self, *args: Any, pools: QuerySet[CareTeam], **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "move-%s")
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["pool"]).queryset = pools


class SensitivityForm(forms.Form):
    """Whether the thread is part of a confidential category of care (or not)."""

    sensitivity = category_field()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "sensitivity-%s")
        super().__init__(*args, **kwargs)
        self.fields["sensitivity"].error_messages["invalid_choice"] = _("Choose one of the options shown.")


class StartThreadForm(forms.Form):
    """A member of staff writes to a patient first."""

    pool = forms.TypedChoiceField(label=_("Write from"), coerce=int, error_messages=CHOOSE)
    topic = forms.ChoiceField(label=_("Topic"), choices=Topic.choices, error_messages=CHOOSE)
    subject = forms.CharField(
        label=_("Subject"),
        max_length=150,
        error_messages={"required": _("Give the message a subject.")},
    )
    sensitivity = category_field()
    body = _body_field(_("Message"))
    attachments = _attachments_field()
    status = forms.ChoiceField(
        label=_("After sending, the conversation is"),
        choices=AFTER_REPLY_CHOICES,
        initial=Thread.Status.WAITING_ON_PATIENT,
        error_messages=CHOOSE,
    )

    def __init__(self, *args: Any, pools: Sequence[CareTeam], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pools = list(pools)
        cast(forms.TypedChoiceField, self.fields["pool"]).choices = [
            (str(pool.pk), pool.name) for pool in self.pools
        ]

    def clean_pool(self) -> CareTeam | None:
        pk = self.cleaned_data.get("pool")
        return next((pool for pool in self.pools if pool.pk == pk), None)
