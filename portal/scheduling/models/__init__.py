"""The scheduling app's models, one module per part of the capability."""

from portal.scheduling.models.appointments import (
    Appointment,
    AppointmentRequest,
    PatientNotice,
    SlotOffer,
    WaitlistEntry,
)
from portal.scheduling.models.catalog import ConsentForm, Mode, Questionnaire, VisitType
from portal.scheduling.models.checkin import ConsentSignature, PreCheckIn, QuestionnaireAnswers
from portal.scheduling.models.schedules import ScheduleBlock, ScheduleTemplate, Slot

__all__ = [
    "Appointment",
    "AppointmentRequest",
    "ConsentForm",
    "ConsentSignature",
    "Mode",
    "PatientNotice",
    "PreCheckIn",
    "Questionnaire",
    "QuestionnaireAnswers",
    "ScheduleBlock",
    "ScheduleTemplate",
    "Slot",
    "SlotOffer",
    "VisitType",
    "WaitlistEntry",
]
