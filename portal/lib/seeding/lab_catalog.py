"""The tests the demo generator orders: units, reference ranges and what values are usual.

Ranges are the adult ranges a typical US hospital laboratory prints; means and spreads
are rough population figures, good enough that most invented results are normal and a
few are flagged, as in life. Codes are LOINC, matching `portal/records/lab_guides.py`.
"""

from __future__ import annotations

from dataclasses import dataclass

Range = tuple[float | None, float | None]


@dataclass(frozen=True)
class LabTest:
    """A numeric test: how the lab reports it and how the generator draws it."""

    code: str
    name: str
    unit: str
    decimals: int
    normal: Range  # reference range (female, or everyone)
    mean: float
    spread: float  # standard deviation, or for `skewed` tests the log-scale spread
    bounds: tuple[float, float]  # nothing outside this is a plausible human result
    critical: Range = (None, None)  # beyond these the lab phones the clinician
    male_normal: Range | None = None
    male_mean: float | None = None
    skewed: bool = False

    def reference(self, male: bool) -> Range:
        return self.male_normal if male and self.male_normal is not None else self.normal

    def usual(self, male: bool) -> float:
        return self.male_mean if male and self.male_mean is not None else self.mean


@dataclass(frozen=True)
class TextTest:
    """A test answered in words (urine dipstick, infection screens)."""

    code: str
    name: str
    normal: str
    abnormal: tuple[str, ...]


@dataclass(frozen=True)
class Panel:
    """A group of tests ordered and reported together (a FHIR DiagnosticReport)."""

    code: str
    name: str
    tests: tuple[str, ...]
    text_tests: tuple[str, ...] = ()


TESTS: dict[str, LabTest] = {
    test.code: test
    for test in (
        # Metabolic panel.
        LabTest("2345-7", "Glucose", "mg/dL", 0, (70, 99), 88, 8, (25, 600), (50, 400)),
        LabTest("3094-0", "Urea nitrogen (BUN)", "mg/dL", 0, (7, 20), 14, 4, (2, 120)),
        LabTest(
            "2160-0", "Creatinine", "mg/dL", 2, (0.5, 1.1), 0.78, 0.13, (0.2, 12),
            male_normal=(0.7, 1.3), male_mean=1.0,
        ),
        LabTest("98979-8", "eGFR", "mL/min/1.73m2", 0, (60, None), 95, 15, (4, 160)),
        LabTest("2951-2", "Sodium", "mmol/L", 0, (135, 145), 140, 2, (110, 170), (120, 160)),
        LabTest("2823-3", "Potassium", "mmol/L", 1, (3.5, 5.1), 4.2, 0.3, (2.0, 7.5), (2.8, 6.2)),
        LabTest("2075-0", "Chloride", "mmol/L", 0, (98, 107), 102, 2.5, (80, 125)),
        LabTest("2028-9", "Carbon dioxide", "mmol/L", 0, (22, 29), 25.5, 1.8, (8, 45), (12, 40)),
        LabTest("17861-6", "Calcium", "mg/dL", 1, (8.6, 10.3), 9.4, 0.3, (5.0, 15.0), (6.5, 13.0)),
        # The rest of the comprehensive panel.
        LabTest("2885-2", "Total protein", "g/dL", 1, (6.0, 8.3), 7.1, 0.4, (4.0, 10.0)),
        LabTest("1751-7", "Albumin", "g/dL", 1, (3.5, 5.0), 4.3, 0.3, (1.5, 6.0)),
        LabTest("1975-2", "Bilirubin, total", "mg/dL", 1, (0.1, 1.2), 0.6, 0.35, (0.1, 8.0), skewed=True),
        LabTest("6768-6", "Alkaline phosphatase", "U/L", 0, (44, 147), 78, 0.25, (20, 600), skewed=True),
        LabTest("1742-6", "ALT", "U/L", 0, (7, 56), 23, 0.38, (4, 400), skewed=True),
        LabTest("1920-8", "AST", "U/L", 0, (10, 40), 22, 0.3, (6, 400), skewed=True),
        # Blood count.
        LabTest("6690-2", "White blood cells", "K/uL", 1, (4.5, 11.0), 7.0, 1.5, (1.0, 60.0), (2.0, 30.0)),
        LabTest(
            "789-8", "Red blood cells", "M/uL", 2, (4.2, 5.4), 4.6, 0.3, (2.5, 7.0),
            male_normal=(4.7, 6.1), male_mean=5.2,
        ),
        LabTest(
            "718-7", "Hemoglobin", "g/dL", 1, (12.0, 15.5), 13.6, 0.9, (4.0, 23.0), (7.0, 20.0),
            male_normal=(13.5, 17.5), male_mean=15.3,
        ),
        LabTest(
            "4544-3", "Hematocrit", "%", 1, (36.0, 46.0), 40.8, 2.7, (18.0, 60.0),
            male_normal=(41.0, 53.0), male_mean=45.9,
        ),
        LabTest("787-2", "MCV", "fL", 0, (80, 100), 89, 4, (60, 120)),
        LabTest("777-3", "Platelets", "K/uL", 0, (150, 400), 255, 50, (20, 1500), (50, 1000)),
        # Lipids; the lab prints "less than 200" as 0-199.
        LabTest("2093-3", "Cholesterol, total", "mg/dL", 0, (None, 199), 185, 30, (90, 400)),
        LabTest("2571-8", "Triglycerides", "mg/dL", 0, (None, 149), 115, 0.4, (30, 1000), skewed=True),
        LabTest("2085-9", "HDL cholesterol", "mg/dL", 0, (40, None), 58, 12, (20, 110), male_mean=47),
        LabTest("13457-7", "LDL cholesterol (calculated)", "mg/dL", 0, (None, 129), 105, 25, (30, 300)),
        # Single tests.
        LabTest("4548-4", "Hemoglobin A1c", "%", 1, (4.0, 5.6), 5.3, 0.25, (4.0, 14.0)),
        LabTest("3016-3", "TSH", "mIU/L", 2, (0.45, 4.5), 1.7, 0.45, (0.01, 60.0), skewed=True),
        LabTest("3024-7", "Free T4", "ng/dL", 2, (0.8, 1.8), 1.2, 0.17, (0.3, 4.0)),
        LabTest("62292-8", "Vitamin D, 25-hydroxy", "ng/mL", 0, (30, 100), 31, 0.35, (4, 150), skewed=True),
        LabTest("2857-1", "PSA", "ng/mL", 2, (None, 4.0), 1.2, 0.6, (0.05, 50.0), skewed=True),
        LabTest("2276-4", "Ferritin", "ng/mL", 0, (15, 150), 70, 0.6, (3, 1500), skewed=True),
        # Urine dipstick numbers.
        LabTest("5811-5", "Specific gravity", "", 3, (1.005, 1.030), 1.018, 0.006, (1.001, 1.040)),
        LabTest("5803-2", "pH", "", 1, (5.0, 8.0), 6.0, 0.6, (4.5, 9.0)),
    )
}  # fmt: skip

TEXT_TESTS: dict[str, TextTest] = {
    test.code: test
    for test in (
        TextTest("5804-0", "Protein", "Negative", ("Trace", "1+")),
        TextTest("5792-7", "Glucose", "Negative", ("1+", "2+")),
        TextTest("5794-3", "Blood", "Negative", ("Trace", "1+")),
        TextTest("5799-2", "Leukocyte esterase", "Negative", ("Small", "Moderate")),
        TextTest("5802-4", "Nitrite", "Negative", ("Positive",)),
        TextTest("21613-5", "Chlamydia trachomatis DNA", "Not detected", ("Detected",)),
        TextTest("24111-7", "Neisseria gonorrhoeae DNA", "Not detected", ("Detected",)),
    )
}

BMP = Panel(
    "51990-0",
    "Basic metabolic panel",
    ("2345-7", "3094-0", "2160-0", "98979-8", "2951-2", "2823-3", "2075-0", "2028-9", "17861-6"),
)
CMP = Panel(
    "24323-8",
    "Comprehensive metabolic panel",
    (*BMP.tests, "2885-2", "1751-7", "1975-2", "6768-6", "1742-6", "1920-8"),
)
CBC = Panel("58410-2", "Complete blood count (CBC)", ("6690-2", "789-8", "718-7", "4544-3", "787-2", "777-3"))
LIPIDS = Panel("24331-1", "Lipid panel", ("2093-3", "2571-8", "2085-9", "13457-7"))
A1C = Panel("4548-4", "Hemoglobin A1c", ("4548-4",))
TSH = Panel("3016-3", "TSH", ("3016-3",))
THYROID = Panel("3016-3", "TSH with free T4", ("3016-3", "3024-7"))
VITAMIN_D = Panel("62292-8", "Vitamin D, 25-hydroxy", ("62292-8",))
PSA = Panel("2857-1", "PSA (prostate-specific antigen)", ("2857-1",))
FERRITIN = Panel("2276-4", "Ferritin", ("2276-4",))
URINALYSIS = Panel(
    "24357-6",
    "Urinalysis",
    ("5811-5", "5803-2"),
    ("5804-0", "5792-7", "5794-3", "5799-2", "5802-4"),
)
STI_SCREEN = Panel("21613-5", "Chlamydia and gonorrhea screen", (), ("21613-5", "24111-7"))


@dataclass(frozen=True)
class Vital:
    """A vital sign recorded at a visit (always a stand-alone observation, never flagged)."""

    code: str
    name: str
    unit: str
    decimals: int


VITALS: dict[str, Vital] = {
    vital.code: vital
    for vital in (
        Vital("8480-6", "Systolic blood pressure", "mmHg", 0),
        Vital("8462-4", "Diastolic blood pressure", "mmHg", 0),
        Vital("8867-4", "Heart rate", "beats/min", 0),
        Vital("9279-1", "Breathing rate", "breaths/min", 0),
        Vital("8310-5", "Body temperature", "°C", 1),
        Vital("59408-5", "Oxygen saturation", "%", 0),
        Vital("29463-7", "Weight", "kg", 1),
        Vital("8302-2", "Height", "cm", 1),
        Vital("39156-5", "Body mass index (BMI)", "kg/m2", 1),
    )
}
