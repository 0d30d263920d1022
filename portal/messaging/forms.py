"""Patient-side message forms: what the message is about and who answers, the text, the files.

Attachments are checked here, at the boundary, by what they contain
(`lib/uploads.check_document_or_image`); one bad file fails the whole form, so a
message is sent with every file the sender chose or not at all.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Sequence
from typing import Any, cast

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.forms.boundfield import BoundWidget
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from portal.lib.uploads import CheckedFile, check_document_or_image
from portal.messaging import routing
from portal.messaging.models import Topic
from portal.organization.models import Campus, CareTeam
from portal.patients.access import PatientAccess
from portal.patients.models import Scope
from portal.records.access import visible_reports
from portal.records.models import ResultReport
from portal.scheduling.access import appointments_of, may_see_appointments
from portal.scheduling.models import Appointment

SUBJECT_MAX = 150
BODY_MAX = 10_000
RESULTS_OFFERED = 20
APPOINTMENTS_OFFERED = 10
ACCEPT = "application/pdf,image/jpeg,image/png,.pdf,.jpg,.jpeg,.png"

TOPIC_HINTS: dict[str, Any] = {
    Topic.MEDICAL: gettext_lazy("A question about your health or your care that is not urgent."),
    Topic.RESULT: gettext_lazy("A question about a test result in your health record."),
    Topic.PRESCRIPTION: gettext_lazy(
        "A question about a medicine. To renew a prescription, ask for a refill instead."
    ),
    Topic.REFERRAL: gettext_lazy("A question about being referred to a specialist."),
    Topic.APPOINTMENT: gettext_lazy("A question about a visit: the scheduling desk of the campus answers."),
    Topic.BILLING: gettext_lazy("A question about a bill or a payment: the billing office answers."),
    Topic.OTHER: gettext_lazy("Anything else for your care team."),
}
CHOOSE = {
    "invalid_choice": gettext_lazy("Choose one of the options shown."),
    "required": gettext_lazy("Choose one of the options."),
}
# Browsers send only a file's own name; anything that still names a folder, a parent
# folder or a device was made by hand to reach outside the upload folder.
_PATH_TRICK = re.compile(r"[/\\:\x00-\x1f\x7f]|^\.\.?$")


class MultipleFileInput(forms.FileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files under one name; cleans to a list (empty when none were chosen)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": ACCEPT}))
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile]:
        uploads = data if isinstance(data, list | tuple) else [data]
        return [super(MultipleFileField, self).clean(upload, initial) for upload in uploads if upload]


def attachments_help() -> str:
    limit = settings.PORTAL_MESSAGE_ATTACHMENT_MAX_BYTES
    count = settings.PORTAL_MESSAGE_MAX_ATTACHMENTS
    return ngettext(
        "A PDF, JPEG or PNG file of up to %(size)s.",
        "Up to %(count)d PDF, JPEG or PNG files, each up to %(size)s.",
        count,
    ) % {"count": count, "size": formats.number_format(limit / (1024 * 1024), 1) + " MB"}


def check_attachments(uploads: Sequence[UploadedFile]) -> list[CheckedFile]:
    """Every file checked by its content; one error per bad file, naming it."""
    most = settings.PORTAL_MESSAGE_MAX_ATTACHMENTS
    if len(uploads) > most:
        raise ValidationError(
            ngettext("Attach at most %(count)d file.", "Attach at most %(count)d files.", most)
            % {"count": most},
            code="too_many",
        )
    checked: list[CheckedFile] = []
    problems: list[str] = []
    for upload in uploads:
        name = upload.name or ""
        if _PATH_TRICK.search(name):
            problems.append(_("A file name cannot contain folder names or special characters."))
            continue
        try:
            checked.append(check_document_or_image(upload, settings.PORTAL_MESSAGE_ATTACHMENT_MAX_BYTES))
        except ValidationError as error:
            problems.extend(f"{name[:80]}: {message}" for message in error.messages)
    if problems:
        raise ValidationError(problems, code="invalid")
    return checked


CLIENT_KEY = re.compile(r"[0-9a-f]{32}")


class SentOnce(forms.Form):
    """Carries a random key from the page to the send, so a form sent twice stores one message."""

    client_key = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["client_key"].initial = uuid.uuid4().hex

    def clean_client_key(self) -> str:
        key = self.cleaned_data.get("client_key") or ""
        return key if CLIENT_KEY.fullmatch(key) else ""


class ReplyForm(SentOnce):
    """A reply in a conversation: text and files."""

    body = forms.CharField(
        label=gettext_lazy("Your reply"),
        max_length=BODY_MAX,
        widget=forms.Textarea(attrs={"rows": 6}),
        error_messages={"required": gettext_lazy("Write your message.")},
    )
    attachments = MultipleFileField(label=gettext_lazy("Attach files"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["attachments"].help_text = attachments_help()
        self.fields["body"].help_text = _("Plain text, up to 10,000 characters.")

    def clean_attachments(self) -> list[CheckedFile]:
        return check_attachments(self.cleaned_data.get("attachments") or [])


class TopicForm(forms.Form):
    """Step one: what the message is about and which care team it is for; decides the pool."""

    topic = forms.ChoiceField(
        label=gettext_lazy("What is your message about?"),
        widget=forms.RadioSelect,
        error_messages=CHOOSE,
    )
    care_team = forms.TypedChoiceField(
        label=gettext_lazy("Your care team"),
        coerce=int,
        required=False,
        empty_value=None,
        widget=forms.RadioSelect,
        error_messages=CHOOSE,
    )

    def __init__(self, *args: Any, access: PatientAccess, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.access = access
        self.care_teams: list[CareTeam] = list(routing.patient_care_teams(access.patient))
        self.pool: CareTeam | None = None
        topics = [
            (value, label)
            for value, label in Topic.choices
            if self.care_teams or value not in routing.CLINICAL_TOPICS
        ]
        self._choice("topic").choices = topics
        self._choice("care_team").choices = [(str(team.pk), team.name) for team in self.care_teams]
        if len(self.care_teams) == 1 and not self.initial.get("care_team"):
            self.initial["care_team"] = str(self.care_teams[0].pk)

    def _choice(self, name: str) -> forms.ChoiceField:
        return cast(forms.ChoiceField, self.fields[name])

    def topic_options(self) -> list[tuple[BoundWidget, Any]]:
        return [(option, TOPIC_HINTS.get(option.data["value"], "")) for option in self["topic"]]

    def team_options(self) -> list[tuple[BoundWidget, CareTeam]]:
        return list(zip(self["care_team"], self.care_teams, strict=True))

    def about_campus(self) -> Campus | None:
        """The campus whose desk answers a question about an appointment, if one was chosen."""
        return None

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        topic = data.get("topic")
        team = next((team for team in self.care_teams if team.pk == data.get("care_team")), None)
        if topic in routing.CLINICAL_TOPICS and team is None and len(self.care_teams) == 1:
            team = self.care_teams[0]
        data["care_team"] = team
        if topic and not self.has_error("care_team"):
            try:
                self.pool = routing.pool_for(topic, self.access.patient, team, self.about_campus())
            except routing.NoPool as problem:
                field = "care_team" if topic in routing.CLINICAL_TOPICS else "topic"
                self.add_error(field, str(problem))
        return data


def _report_label(report: ResultReport) -> str:
    return f"{report.name} ({formats.date_format(timezone.localtime(report.issued_at), 'DATE_FORMAT')})"


def _appointment_label(appointment: Appointment) -> str:
    when = timezone.localtime(appointment.starts_at, appointment.campus.zone)
    return f"{appointment.visit_type.name}, {formats.date_format(when, 'DATE_FORMAT')} ({appointment.campus.name})"


class MessageForm(TopicForm, SentOnce):
    """Step two: the message itself, with the step-one choices carried along unseen."""

    subject = forms.CharField(
        label=gettext_lazy("Subject"),
        max_length=SUBJECT_MAX,
        required=False,
        help_text=gettext_lazy("A few words the care team sees first. Up to 150 characters."),
    )
    body = forms.CharField(
        label=gettext_lazy("Your message"),
        max_length=BODY_MAX,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text=gettext_lazy("Plain text, up to 10,000 characters."),
        error_messages={"required": gettext_lazy("Write your message.")},
    )
    result = forms.TypedChoiceField(
        label=gettext_lazy("About this test result"),
        coerce=int,
        required=False,
        empty_value=None,
        error_messages=CHOOSE,
    )
    appointment = forms.TypedChoiceField(
        label=gettext_lazy("About this appointment"),
        coerce=int,
        required=False,
        empty_value=None,
        error_messages=CHOOSE,
        help_text=gettext_lazy("A question about a visit goes to the scheduling desk of its campus."),
    )
    attachments = MultipleFileField(label=gettext_lazy("Attach files"))

    def __init__(
        self, *args: Any, access: PatientAccess, wanted: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, access=access, **kwargs)
        self.fields["topic"].widget = forms.HiddenInput()
        self.fields["care_team"].widget = forms.HiddenInput()
        self.fields["attachments"].help_text = attachments_help()
        wanted = wanted or {}
        self.results = self._results(wanted.get("result"))
        self.appointments = self._appointments(wanted.get("appointment"))
        none = ("", _("None"))
        self._choice("result").choices = [none, *((str(r.pk), _report_label(r)) for r in self.results)]
        self._choice("appointment").choices = [
            none,
            *((str(a.pk), _appointment_label(a)) for a in self.appointments),
        ]
        if not self.results:
            del self.fields["result"]
        if not self.appointments:
            del self.fields["appointment"]

    def _results(self, wanted: Any) -> list[ResultReport]:
        """The patient's recent visible results, plus one asked about by link (if visible)."""
        if not self.access.allows(Scope.VIEW):
            return []
        reports = visible_reports(self.access).order_by("-issued_at", "-id")
        rows = list(reports[:RESULTS_OFFERED])
        wanted_id = _as_id(wanted)
        if wanted_id is not None and all(row.pk != wanted_id for row in rows):
            rows += list(reports.filter(pk=wanted_id))
        return rows

    def _appointments(self, wanted: Any) -> list[Appointment]:
        """Upcoming visits first, then recent ones, plus one asked about by link."""
        if not may_see_appointments(self.access):
            return []
        now = timezone.now()
        visits = appointments_of(self.access)
        upcoming = list(visits.filter(starts_at__gte=now).order_by("starts_at", "id")[:APPOINTMENTS_OFFERED])
        recent = list(
            visits.filter(starts_at__lt=now, starts_at__gte=now - dt.timedelta(days=365)).order_by(
                "-starts_at", "-id"
            )[:APPOINTMENTS_OFFERED]
        )
        rows = upcoming + recent
        wanted_id = _as_id(wanted)
        if wanted_id is not None and all(row.pk != wanted_id for row in rows):
            rows += list(visits.filter(pk=wanted_id))
        return rows

    def about_campus(self) -> Campus | None:
        wanted = self.data.get("appointment") if self.is_bound else self.initial.get("appointment")
        chosen = _by_pk(self.appointments, wanted)
        return chosen.campus if chosen is not None else None

    def preview_pool(self, topic: str, care_team: CareTeam | None) -> CareTeam | None:
        """The pool the message will go to, as the page shows it before sending."""
        try:
            return routing.pool_for(topic, self.access.patient, care_team, self.about_campus())
        except routing.NoPool:
            return None

    def clean_attachments(self) -> list[CheckedFile]:
        return check_attachments(self.cleaned_data.get("attachments") or [])

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        data["result"] = _by_pk(self.results, data.get("result"))
        data["appointment"] = _by_pk(self.appointments, data.get("appointment"))
        if not data.get("subject") and data.get("topic"):
            data["subject"] = default_subject(data["topic"], data["result"], data["appointment"])
        return data

    def step_one_errors(self) -> bool:
        """Whether the topic or team chosen in step one is no longer acceptable."""
        return self.has_error("topic") or self.has_error("care_team")


def default_subject(topic: str, result: ResultReport | None, appointment: Appointment | None) -> str:
    """A subject for a message sent without one.

    Never the result's or the visit's name: subjects show in lists, on the home page
    and to whoever else reads the patient's messages, while the link itself is shown
    only to those who may see what it points to.
    """
    if result is not None:
        return _("Question about a test result")
    if appointment is not None:
        return _("Question about an appointment")
    return str(Topic(topic).label)[:SUBJECT_MAX]


def _as_id(value: Any) -> int | None:
    try:
        number = int(str(value))
    except (TypeError, ValueError):
        return None
    return number if 0 < number < 2**62 else None


def _by_pk(rows: Sequence[Any], pk: Any) -> Any:
    wanted = _as_id(pk)
    return next((row for row in rows if wanted is not None and row.pk == wanted), None)


class InboxFilterForm(forms.Form):
    """Search and filters of the patient's message list (a GET form)."""

    q = forms.CharField(label=gettext_lazy("Search messages"), max_length=100, required=False)
    topic = forms.ChoiceField(label=gettext_lazy("Topic"), required=False)
    unread = forms.BooleanField(label=gettext_lazy("Unread only"), required=False)
    archived = forms.BooleanField(label=gettext_lazy("Archived conversations"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["topic"]).choices = [("", _("All topics")), *Topic.choices]

    def filters(self) -> dict[str, Any]:
        """The valid filters; anything that does not parse is ignored rather than failing the list."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return {
            "q": (data.get("q") or "").strip(),
            "topic": data.get("topic") or "",
            "unread": bool(data.get("unread")),
            "archived": bool(data.get("archived")),
        }
