"""The demo clinic's price list (chargemaster): common services by CPT or HCPCS code.

Prices are what the clinic bills before any insurer's contract; the self-pay price is
what a patient paying without insurance is charged (40% off, as many clinics discount
prompt self-pay). Each service names the appointment types that usually include it, by
visit type slug (`schedules.py` makes them "<kind>-<department>"; a trailing "-" matches
that kind in every department), so an estimate can start from what was booked.

Seeded by `portal demo` and the benchmark; an administrator's later edits to a price, a
description or an item's visit types are kept.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q

from portal.billing.models import PriceItem
from portal.scheduling.models import VisitType

SELF_PAY_PERCENT = 60  # of the list price: a 40% self-pay discount


@dataclass(frozen=True)
class Price:
    """One service on the list, in cents, and the visit types (slugs or "kind-" prefixes) it goes with."""

    code: str
    description: str
    price_cents: int
    visit_types: tuple[str, ...] = ()

    @property
    def self_pay_cents(self) -> int:
        return self.price_cents * SELF_PAY_PERCENT // 100


PHYSICALS = ("annual-physical-family-medicine", "annual-physical-internal-medicine")
LAB_VISIT = "blood-draw-laboratory-medicine"
FASTING_LABS = (*PHYSICALS, LAB_VISIT)

PRICE_LIST: tuple[Price, ...] = (
    # Office visits (evaluation and management), by time with the clinician.
    Price("99202", "Office visit, new patient, 15 to 29 minutes", 150_00),
    Price("99203", "Office visit, new patient, 30 to 44 minutes", 225_00, ("new-consult-",)),
    Price("99204", "Office visit, new patient, 45 to 59 minutes", 340_00, ("new-consult-",)),
    Price("99212", "Office visit, established patient, 10 to 19 minutes", 110_00),
    Price("99213", "Office visit, established patient, 20 to 29 minutes", 165_00, ("follow-up-",)),
    Price("99214", "Office visit, established patient, 30 to 39 minutes", 240_00, ("follow-up-",)),
    Price("99215", "Office visit, established patient, 40 to 54 minutes", 320_00),
    Price(
        "99213-95",
        "Video visit, established patient, 20 to 29 minutes (modifier 95: telehealth)",
        165_00,
        ("video-follow-up-",),
    ),
    # E-visits: a clinician's time over up to 7 days answering the patient's questionnaire online.
    Price("99421", "Online digital evaluation and management (e-visit), 5 to 10 minutes", 35_00),
    Price("99422", "Online digital evaluation and management (e-visit), 11 to 20 minutes", 55_00),
    # Preventive visits, by age.
    Price("99386", "Preventive visit, new patient, age 40 to 64", 325_00),
    Price("99393", "Preventive visit, established patient, age 5 to 11", 215_00, ("well-child-pediatrics",)),
    Price("99395", "Preventive visit, established patient, age 18 to 39", 260_00, PHYSICALS),
    Price("99396", "Preventive visit, established patient, age 40 to 64", 295_00, PHYSICALS),
    Price("99397", "Preventive visit, established patient, age 65 and over", 315_00, PHYSICALS),
    # Laboratory.
    Price("36415", "Blood draw (venipuncture)", 22_00, FASTING_LABS),
    Price("80048", "Basic metabolic panel", 68_00, (LAB_VISIT,)),
    Price("80053", "Comprehensive metabolic panel", 92_00, FASTING_LABS),
    Price("80061", "Lipid panel (cholesterol)", 86_00, FASTING_LABS),
    Price("83036", "Hemoglobin A1c", 64_00, FASTING_LABS),
    Price("85025", "Complete blood count (CBC) with differential", 54_00, FASTING_LABS),
    Price("85610", "Prothrombin time (PT/INR)", 38_00, (LAB_VISIT,)),
    # Imaging.
    Price("71046", "Chest X-ray, 2 views", 210_00),
    Price("73562", "Knee X-ray, 3 views", 225_00),
    Price("77067", "Screening mammogram, both breasts", 285_00, ("mammogram-radiology",)),
    Price("74177", "CT abdomen and pelvis with contrast", 1_450_00, ("ct-scan-radiology",)),
    Price("70551", "MRI brain without contrast", 1_850_00, ("mri-scan-radiology",)),
    Price("73721", "MRI knee without contrast", 1_650_00, ("mri-scan-radiology",)),
    # Heart and lungs.
    Price("93000", "Electrocardiogram (ECG) with interpretation", 118_00, ("new-consult-cardiology",)),
    Price("94010", "Breathing test (spirometry)", 105_00),
    # Vaccines.
    Price("90686", "Flu vaccine, quadrivalent, preservative-free", 46_00, ("flu-vaccine",)),
    Price("90471", "Vaccine administration, first vaccine", 32_00, ("flu-vaccine", "well-child-pediatrics")),
    # Physical therapy.
    Price("97161", "Physical therapy evaluation, low complexity", 175_00),
    Price("97110", "Therapeutic exercise, each 15 minutes", 92_00),
)
PRICES = {price.code: price for price in PRICE_LIST}


def seed_price_list() -> int:
    """Add the services missing from the price list, with their visit types; returns how many were added."""
    added = 0
    with transaction.atomic():
        for price in PRICE_LIST:
            item, created = PriceItem.objects.get_or_create(
                code=price.code,
                defaults={
                    "description": price.description,
                    "price_cents": price.price_cents,
                    "self_pay_price_cents": price.self_pay_cents,
                },
            )
            added += created
            # Linked while the item has none: the catalogue may be seeded after the price list.
            if price.visit_types and not item.visit_types.exists():
                item.visit_types.add(*_visit_types(price.visit_types))
    return added


def _visit_types(patterns: tuple[str, ...]) -> list[VisitType]:
    if not patterns:
        return []
    match = Q()
    for pattern in patterns:
        match |= Q(slug__startswith=pattern) if pattern.endswith("-") else Q(slug=pattern)
    return list(VisitType.objects.filter(match))
