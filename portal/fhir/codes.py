"""Code systems and the small translation tables between FHIR / HL7 codes and the record's choices.

Both directions live here so an export maps back to exactly what an import reads.
"""

from __future__ import annotations

from django.conf import settings

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
CVX = "http://hl7.org/fhir/sid/cvx"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
UCUM = "http://unitsofmeasure.org"
DICOM_UID = "urn:dicom:uid"
DICOM_DCM = "http://dicom.nema.org/resources/ontology/DCM"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
V2_0074 = "http://terminology.hl7.org/CodeSystem/v2-0074"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
US_CORE_CONDITION_CATEGORY = "http://hl7.org/fhir/us/core/CodeSystem/condition-category"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
ALLERGY_CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
ALLERGY_VERIFICATION = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"
US_CORE_DOCUMENT_CATEGORY = "http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category"
# The portal's own code systems, for what no standard code says exactly (a visit's kind,
# a document's kind, a sensitivity slug); an import reads them back first.
PORTAL_SENSITIVITY = "urn:portal:sensitivity"
# An exported resource's identifier in this system is the row's source id: importing the
# export finds the same row.
PORTAL_SOURCE_ID = "urn:portal:source-id"
PORTAL_VISIT_KIND = "urn:portal:visit-kind"
PORTAL_NOTE_KIND = "urn:portal:note-kind"
PORTAL_DOCUMENT_KIND = "urn:portal:document-kind"
PORTAL_EXTENSION = "urn:portal:fhir:extension:"

US_CORE = "http://hl7.org/fhir/us/core/StructureDefinition/"


def clinic_number_system() -> str:
    return str(getattr(settings, "PORTAL_CLINIC_NUMBER_SYSTEM", "urn:portal:clinic-number"))


# Security labels (meta.security) -> the record's sensitivity slug. v3-ActCode
# information-sensitivity codes; a label may also carry one of the clinic's category slugs
# (PORTAL_ADOLESCENT_CONFIDENTIAL_CATEGORIES) as its code.
SENSITIVITY_BY_LABEL = {
    "PSY": "mental-health",
    "PSYTHPN": "mental-health",
    "BH": "mental-health",
    "ETH": "substance-use",
    "SUD": "substance-use",
    "OPIOIDUD": "substance-use",
    "SEX": "sexual-health",
    "HIV": "sexual-health",
    "STD": "sexual-health",
    "SDV": "sexual-health",
    "PREGNANT": "reproductive-health",
}
# The other way, for the export; a slug without a v3 code goes out as itself.
LABEL_BY_SENSITIVITY = {
    "mental-health": "PSY",
    "substance-use": "ETH",
    "sexual-health": "SEX",
}


def sensitivity_from_labels(codes: list[tuple[str, str]]) -> str:
    """The first confidential category among (system, code) security labels, or ""."""
    categories = settings.PORTAL_ADOLESCENT_CONFIDENTIAL_CATEGORIES
    for system, code in codes:
        if system == PORTAL_SENSITIVITY and code:
            return code.lower()
        if code.lower() in categories:
            return code.lower()
        if code.upper() in SENSITIVITY_BY_LABEL:
            return SENSITIVITY_BY_LABEL[code.upper()]
    return ""


def security_labels(sensitivity: str) -> list[dict[str, str]]:
    if not sensitivity:
        return []
    code = LABEL_BY_SENSITIVITY.get(sensitivity)
    if code:
        return [{"system": ACT_CODE, "code": code}]
    return [{"system": PORTAL_SENSITIVITY, "code": sensitivity}]


# HL7 table 0074 (diagnostic service section), used by DiagnosticReport.category and OBR-24.
REPORT_CATEGORY_BY_SECTION = {
    **dict.fromkeys(
        ["LAB", "CH", "HM", "MB", "MCB", "SR", "IMM", "BLB", "URN", "TX", "VR", "MYC", "PAR"],
        "lab",
    ),
    **dict.fromkeys(["RAD", "RX", "CT", "NMR", "NMS", "RUS", "OUS", "VUS", "XRC", "IMG"], "imaging"),
    # Surgical pathology and cytopathology are pathology, not lab.
    **dict.fromkeys(["PAT", "SP", "CP", "OSL"], "pathology"),
    "GE": "genetics",
    **dict.fromkeys(["CTH", "CUS", "EC", "PHY"], "cardiology"),
    "OTH": "other",
}
SECTION_BY_REPORT_CATEGORY = {
    "lab": "LAB",
    "imaging": "RAD",
    "pathology": "PAT",
    "genetics": "GE",
    "cardiology": "CTH",
    "other": "OTH",
}
# US Core's LOINC report categories for non-lab reports.
LOINC_REPORT_CATEGORY = {
    "imaging": ("LP29684-5", "Radiology"),
    "pathology": ("LP7839-6", "Pathology"),
    "cardiology": ("LP29708-2", "Cardiology"),
}
REPORT_CATEGORY_BY_LOINC = {code: category for category, (code, _name) in LOINC_REPORT_CATEGORY.items()}

# FHIR status -> the record's status, per resource. Anything not listed is refused.
REPORT_STATUS = {
    "registered": "preliminary",
    "partial": "preliminary",
    "preliminary": "preliminary",
    "final": "final",
    "amended": "corrected",
    "corrected": "corrected",
    "appended": "corrected",
    "cancelled": "cancelled",
    "entered-in-error": "cancelled",
}
OBSERVATION_STATUS = {
    "registered": "preliminary",
    "preliminary": "preliminary",
    "final": "final",
    "amended": "corrected",
    "corrected": "corrected",
    "cancelled": "cancelled",
    "entered-in-error": "cancelled",
}
INTERPRETATIONS = frozenset({"N", "L", "H", "LL", "HH", "A"})
# Other common v3 interpretation codes, folded into the record's six.
INTERPRETATION_ALIASES = {"AA": "A", "<": "L", ">": "H", "LU": "L", "HU": "H", "NEG": "N", "POS": "A"}

NOTE_KIND_BY_LOINC = {
    "34109-9": "visit-note",
    "34117-2": "visit-note",
    "11506-3": "progress-note",
    "18842-5": "discharge-summary",
    "11488-4": "consult-note",
    "51852-2": "letter",
}
LOINC_BY_NOTE_KIND = {
    "visit-note": ("34109-9", "Note"),
    "progress-note": ("11506-3", "Progress note"),
    "discharge-summary": ("18842-5", "Discharge summary"),
    "consult-note": ("11488-4", "Consult note"),
    "letter": ("51852-2", "Letter"),
}
DOCUMENT_KIND_BY_LOINC = {"51852-2": "letter", "69730-0": "instructions", "34133-9": "outside-record"}
LOINC_BY_DOCUMENT_KIND = {
    "letter": ("51852-2", "Letter"),
    "instructions": ("69730-0", "Instructions"),
    "outside-record": ("34133-9", "Summary of episode note"),
    "form": ("74468-0", "Questionnaire form definition Document"),
    "other": ("34109-9", "Note"),
}

# Encounter.class (v3-ActCode) -> visit kind, and back.
VISIT_KIND_BY_CLASS = {
    "AMB": "office",
    "VR": "video",
    "IMP": "hospital",
    "ACUTE": "hospital",
    "NONAC": "hospital",
    "SS": "hospital",
    "OBSENC": "hospital",
    "EMER": "emergency",
}
CLASS_BY_VISIT_KIND = {
    "office": ("AMB", "ambulatory"),
    "video": ("VR", "virtual"),
    "telephone": ("VR", "virtual"),
    "hospital": ("IMP", "inpatient encounter"),
    "emergency": ("EMER", "emergency"),
}
