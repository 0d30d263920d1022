"""The only texts that leave the portal by email or text message.

Email and SMS travel in the clear and are read on lock screens, so they never carry
health information: not a name, a result, a clinician, a department or a visit. Each
kind of news has one fixed text, and event-specific variants are registered here too,
so a test can check every text that can ever be sent.
"""

from __future__ import annotations

from django.utils.translation import gettext_noop

from portal.notifications.models import Kind

# (kind, event) -> (subject, body); event "" is the kind's general text.
OUTBOUND: dict[tuple[str, str], tuple[str, str]] = {
    (Kind.MESSAGES, ""): (
        gettext_noop("New message in your patient portal"),
        gettext_noop("You have a new message in the patient portal."),
    ),
    (Kind.RESULTS, ""): (
        gettext_noop("New information in your patient portal"),
        gettext_noop("There is something new in your health record in the patient portal."),
    ),
    (Kind.APPOINTMENTS, ""): (
        gettext_noop("Appointment news in your patient portal"),
        gettext_noop("There is news about an appointment in the patient portal."),
    ),
    (Kind.APPOINTMENTS, "reminder"): (
        gettext_noop("Appointment reminder from your patient portal"),
        gettext_noop(
            "You have an appointment coming up. Sign in to the patient portal to see when and where."
        ),
    ),
    (Kind.BILLING, ""): (
        gettext_noop("Billing news in your patient portal"),
        gettext_noop("There is news about your bills or payments in the patient portal."),
    ),
    (Kind.BILLING, "receipt"): (
        gettext_noop("Thank you for your payment"),
        gettext_noop("We received a payment. Your receipt is in the patient portal."),
    ),
    (Kind.BILLING, "statement"): (
        gettext_noop("A new statement is ready"),
        gettext_noop("A new billing statement is ready in the patient portal."),
    ),
    (Kind.BILLING, "payment_failed"): (
        gettext_noop("A scheduled payment did not go through"),
        gettext_noop(
            "A scheduled payment could not be taken. Sign in to the patient portal to see what to do."
        ),
    ),
    (Kind.BILLING, "plan_notice"): (
        gettext_noop("A scheduled payment is coming up"),
        gettext_noop("A payment plan instalment will be charged soon. Details are in the patient portal."),
    ),
}

STAFF_OUTBOUND: tuple[str, str] = (
    gettext_noop("Work waiting in the staff workspace"),
    gettext_noop("There is new work for you in the staff workspace."),
)


def outbound_text(kind: str, event: str = "") -> tuple[str, str]:
    """The untranslated (subject, body) for news of `kind`; translate them in the reader's language."""
    return OUTBOUND.get((kind, event)) or OUTBOUND[(kind, "")]
