"""What invented patients have and get: conditions, medicines, allergies, illnesses, vaccines.

Plain data for `records.py`. Prevalences are rough adult US figures by age; diagnosis
codes are ICD-10-CM, medicine codes RxNorm (left blank where we are not sure of the
exact product), vaccine codes CVX, procedure codes SNOMED CT.
"""

from __future__ import annotations

from dataclasses import dataclass

from portal.lib.seeding.lab_catalog import BMP, CBC, URINALYSIS, Panel
from portal.records.models import Allergy

ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
SNOMED = "http://snomed.info/sct"
MENTAL_HEALTH = "mental-health"
SEXUAL_HEALTH = "sexual-health"
CONTROLLED = (
    "A controlled substance: each refill needs a new prescription from your clinician. "
    "Ask at your next visit or call the clinic."
)
OVER_THE_COUNTER = "Sold without a prescription: buy it at any pharmacy."


@dataclass(frozen=True)
class Condition:
    """A long-term condition: who has it, and what it adds to the record."""

    key: str
    name: str
    code: str
    youngest: int
    prevalence: tuple[tuple[int, float], ...]  # (from this age, share of people), ascending
    drugs: tuple[str, ...] = ()
    sensitivity: str = ""
    female_factor: float = 1.0
    advice: str = ""

    def share(self, age: int, female: bool) -> float:
        share = 0.0
        for from_age, value in self.prevalence:
            if age >= from_age:
                share = value
        return min(share * (self.female_factor if female else 1.0), 0.9)


CONDITIONS: dict[str, Condition] = {
    condition.key: condition
    for condition in (
        Condition(
            "hypertension", "High blood pressure (hypertension)", "I10", 18,
            ((18, 0.07), (40, 0.3), (60, 0.55)), ("lisinopril",),
            advice="Check your blood pressure at home a few times a week and bring the readings to "
            "your next visit. Keep salt low.",
        ),
        Condition(
            "hyperlipidemia", "High cholesterol (hyperlipidemia)", "E78.5", 20,
            ((20, 0.05), (40, 0.25), (60, 0.45)), ("atorvastatin",),
            advice="Choose whole grains, vegetables and fish more often, and fried and processed "
            "foods less often.",
        ),
        Condition(
            "diabetes", "Type 2 diabetes", "E11.9", 18, ((18, 0.02), (40, 0.1), (60, 0.2)),
            ("metformin",),
            advice="Check your blood sugar as you were shown, and keep your yearly eye and foot "
            "checks up to date.",
        ),
        Condition(
            "prediabetes", "Prediabetes", "R73.03", 18, ((18, 0.05), (40, 0.15)),
            advice="Losing a little weight and walking 30 minutes most days lowers your chance of "
            "developing diabetes.",
        ),
        Condition(
            "hypothyroidism", "Underactive thyroid (hypothyroidism)", "E03.9", 18,
            ((18, 0.03), (50, 0.06)), ("levothyroxine",), female_factor=2.5,
            advice="Take levothyroxine on an empty stomach, at the same time every day.",
        ),
        Condition(
            "asthma", "Asthma", "J45.909", 2, ((2, 0.08),), ("albuterol",),
            advice="Carry your rescue inhaler with you. Call us if you need it more than twice a "
            "week.",
        ),
        Condition(
            "gerd", "Acid reflux (GERD)", "K21.9", 18, ((18, 0.08), (40, 0.14)), ("omeprazole",),
            advice="Avoid large meals late in the evening and raise the head of your bed.",
        ),
        Condition(
            "anxiety", "Generalized anxiety disorder", "F41.1", 12, ((12, 0.05), (18, 0.07)),
            ("sertraline",), MENTAL_HEALTH, 1.6,
            advice="Keep going to your counselling sessions. Call us or 988 at any time if you feel "
            "unsafe.",
        ),
        Condition(
            "depression", "Depression", "F32.A", 12, ((12, 0.03), (18, 0.06)), ("sertraline",),
            MENTAL_HEALTH, 1.5,
            advice="Keep going to your counselling sessions. Call us or 988 at any time if you feel "
            "unsafe.",
        ),
        Condition(
            "knee_oa", "Osteoarthritis of the knee", "M17.9", 45, ((45, 0.07), (60, 0.18)),
            ("acetaminophen",),
            advice="Keep moving: walking, cycling and swimming are good for your knees. A cold pack "
            "helps after activity.",
        ),
        Condition(
            "rhinitis", "Seasonal allergies (allergic rhinitis)", "J30.2", 3, ((3, 0.12),),
            ("cetirizine",),
        ),
        Condition(
            "vitamin_d", "Vitamin D deficiency", "E55.9", 18, ((18, 0.07),), ("vitamin_d3",),
        ),
        Condition(
            "ckd", "Chronic kidney disease, stage 3a", "N18.31", 50,
            ((50, 0.03), (65, 0.1), (80, 0.18)),
            advice="Avoid anti-inflammatory pain medicines such as ibuprofen and naproxen; "
            "acetaminophen is safer for your kidneys.",
        ),
        Condition(
            "afib", "Atrial fibrillation", "I48.91", 55, ((55, 0.02), (70, 0.08), (80, 0.12)),
            ("apixaban", "metoprolol"), female_factor=0.7,
            advice="Do not miss doses of apixaban. Tell anyone treating you, including your dentist, "
            "that you take a blood thinner.",
        ),
        Condition(
            "adhd", "Attention deficit hyperactivity disorder (ADHD)", "F90.9", 5,
            ((5, 0.08), (18, 0.03)), ("methylphenidate",), female_factor=0.5,
        ),
    )
}  # fmt: skip

# Conditions seen in follow-up visits rather than only at the yearly check-up.
FOLLOWED_UP = ("hypertension", "diabetes", "hypothyroidism", "ckd", "afib", "anxiety", "depression", "adhd")


@dataclass(frozen=True)
class Drug:
    """A medicine as the pharmacy label describes it."""

    name: str
    code: str
    dose: str
    route: str
    instructions: str
    reason: str
    prescription: bool = True  # False: bought over the counter, so no refills
    controlled: bool = False


BY_MOUTH = "By mouth"
DRUGS: dict[str, Drug] = {
    "lisinopril": Drug(
        "Lisinopril", "314076", "10 mg tablet", BY_MOUTH, "Take 1 tablet by mouth once a day.",
        "High blood pressure",
    ),
    "losartan": Drug(
        "Losartan", "", "50 mg tablet", BY_MOUTH, "Take 1 tablet by mouth once a day.",
        "High blood pressure",
    ),
    "amlodipine": Drug(
        "Amlodipine", "197361", "5 mg tablet", BY_MOUTH, "Take 1 tablet by mouth once a day.",
        "High blood pressure",
    ),
    "metformin": Drug(
        "Metformin", "861007", "500 mg tablet", BY_MOUTH,
        "Take 1 tablet by mouth twice a day with meals.", "Type 2 diabetes",
    ),
    "atorvastatin": Drug(
        "Atorvastatin", "617310", "20 mg tablet", BY_MOUTH, "Take 1 tablet by mouth once a day.",
        "High cholesterol",
    ),
    "levothyroxine": Drug(
        "Levothyroxine", "", "50 mcg tablet", BY_MOUTH,
        "Take 1 tablet by mouth every morning, 30 minutes before breakfast.", "Underactive thyroid",
    ),
    "albuterol": Drug(
        "Albuterol inhaler", "", "90 mcg per puff", "Inhaled",
        "Inhale 2 puffs every 4 to 6 hours as needed for wheezing or shortness of breath.", "Asthma",
    ),
    "omeprazole": Drug(
        "Omeprazole", "", "20 mg capsule", BY_MOUTH,
        "Take 1 capsule by mouth once a day before breakfast.", "Acid reflux",
    ),
    "sertraline": Drug(
        "Sertraline", "312940", "50 mg tablet", BY_MOUTH, "Take 1 tablet by mouth once a day.",
        "Anxiety and low mood",
    ),
    "acetaminophen": Drug(
        "Acetaminophen", "", "500 mg tablet", BY_MOUTH,
        "Take 1 to 2 tablets by mouth every 6 hours as needed for pain; no more than 6 tablets a day.",
        "Knee pain", prescription=False,
    ),
    "tramadol": Drug(
        "Tramadol", "835603", "50 mg tablet", BY_MOUTH,
        "Take 1 tablet by mouth every 6 hours as needed for severe pain.", "Knee pain",
        controlled=True,
    ),
    "cetirizine": Drug(
        "Cetirizine", "", "10 mg tablet", BY_MOUTH,
        "Take 1 tablet by mouth once a day as needed for allergy symptoms.", "Seasonal allergies",
        prescription=False,
    ),
    "vitamin_d3": Drug(
        "Vitamin D3 (cholecalciferol)", "", "2,000 units capsule", BY_MOUTH,
        "Take 1 capsule by mouth once a day.", "Vitamin D deficiency", prescription=False,
    ),
    "apixaban": Drug(
        "Apixaban", "", "5 mg tablet", BY_MOUTH, "Take 1 tablet by mouth twice a day.",
        "Atrial fibrillation (prevents stroke)",
    ),
    "metoprolol": Drug(
        "Metoprolol succinate ER", "", "25 mg tablet", BY_MOUTH,
        "Take 1 tablet by mouth once a day.", "Atrial fibrillation (slows the heart rate)",
    ),
    "methylphenidate": Drug(
        "Methylphenidate ER", "", "18 mg tablet", BY_MOUTH, "Take 1 tablet by mouth every morning.",
        "ADHD", controlled=True,
    ),
    "amoxicillin": Drug(
        "Amoxicillin", "308191", "500 mg capsule", BY_MOUTH,
        "Take 1 capsule by mouth three times a day for 10 days.", "Infection",
    ),
    "amoxicillin_liquid": Drug(
        "Amoxicillin oral suspension", "", "400 mg per 5 mL", BY_MOUTH,
        "Give the measured dose by mouth twice a day for 10 days.", "Ear infection",
    ),
    "nitrofurantoin": Drug(
        "Nitrofurantoin", "", "100 mg capsule", BY_MOUTH,
        "Take 1 capsule by mouth twice a day for 5 days.", "Urinary tract infection",
    ),
}  # fmt: skip


@dataclass(frozen=True)
class AllergySpec:
    """An allergy and its usual reaction."""

    substance: str
    category: str
    reaction: str
    severity: str
    weight: int


Category, Severity = Allergy.Category, Allergy.Severity
ALLERGIES = (
    AllergySpec("Penicillin", Category.MEDICATION, "Hives", Severity.MODERATE, 10),
    AllergySpec("Sulfa drugs (sulfonamides)", Category.MEDICATION, "Rash", Severity.MILD, 5),
    AllergySpec("Codeine", Category.MEDICATION, "Nausea and vomiting", Severity.MILD, 3),
    AllergySpec(
        "Peanuts", Category.FOOD, "Swelling of the lips and throat, trouble breathing", Severity.SEVERE, 3
    ),
    AllergySpec("Shellfish", Category.FOOD, "Hives", Severity.MODERATE, 3),
    AllergySpec("Latex", Category.ENVIRONMENT, "Itchy rash where it touched the skin", Severity.MILD, 2),
    AllergySpec("Bee stings", Category.ENVIRONMENT, "Large swelling around the sting", Severity.MODERATE, 2),
    AllergySpec("Cat dander", Category.ENVIRONMENT, "Sneezing and itchy eyes", Severity.MILD, 4),
)


@dataclass(frozen=True)
class Episode:
    """A short illness seen in an office, video or phone visit."""

    key: str
    reason: str
    diagnosis: tuple[str, str]
    summary: str
    instructions: str
    follow_up: str
    youngest: int = 0
    oldest: int = 120
    panels: tuple[Panel, ...] = ()
    drug: str = ""
    remote: bool = True  # can be handled by video or phone


EPISODES = (
    Episode(
        "cold", "Cough and sore throat", ("J06.9", "Common cold (upper respiratory infection)"),
        "You have a viral infection of the nose and throat. Your lungs sounded clear and your "
        "oxygen level was normal.",
        "Rest, drink plenty of fluids, and use honey or throat lozenges for the cough. "
        "Antibiotics do not help a cold.",
        "Call us if a fever lasts more than 3 days or you have trouble breathing.",
    ),
    Episode(
        "sinusitis", "Sinus pain and a blocked nose for two weeks", ("J01.90", "Acute sinusitis"),
        "Your symptoms have lasted long enough that a bacterial sinus infection is likely.",
        "Take the antibiotic until it is finished, even if you feel better sooner. Saline nose "
        "rinses can ease the congestion.",
        "Call us if you are not better in a week.", youngest=12, drug="amoxicillin",
    ),
    Episode(
        "uti", "Burning when passing urine", ("N39.0", "Urinary tract infection"),
        "Your urine test shows signs of a bladder infection.",
        "Take the antibiotic until it is finished and drink plenty of water.",
        "Call us if you get a fever, back pain or feel worse.", youngest=16,
        panels=(URINALYSIS,), drug="nitrofurantoin", remote=False,
    ),
    Episode(
        "back", "Low back pain", ("M54.50", "Low back pain"),
        "Your back muscles are strained. There were no signs of a nerve problem.",
        "Stay as active as you can; bed rest slows recovery. Heat and gentle stretching help.",
        "Most back pain settles within 6 weeks. Call us if it is not better by then.",
        youngest=18,
    ),
    Episode(
        "ankle", "Twisted ankle", ("S93.401A", "Sprained ankle"),
        "You have sprained the ligaments on the outside of your ankle. No bones are broken.",
        "Rest, ice, compression and raising the ankle for the first 2 days, then walk as "
        "comfort allows.",
        "Call us if you still cannot put weight on it after a week.", youngest=6, remote=False,
    ),
    Episode(
        "rash", "Itchy rash", ("L30.9", "Dermatitis (skin inflammation)"),
        "The rash looks like irritation of the skin, not an infection.",
        "Use a fragrance-free moisturiser twice a day and the hydrocortisone cream for up to a week.",
        "Send us a photo through a message if it spreads.",
    ),
    Episode(
        "bronchitis", "Cough for two weeks", ("J20.9", "Acute bronchitis"),
        "You have a chest cold (bronchitis), most likely from a virus. Your lungs sounded "
        "clear apart from a few wheezes.",
        "The cough can last 3 weeks. Rest, drink fluids and avoid smoke.",
        "Call us if you are short of breath or cough up blood.", youngest=5,
    ),
    Episode(
        "ear", "Ear pain and fever", ("H66.90", "Middle ear infection (otitis media)"),
        "The eardrum is red and bulging: a middle ear infection.",
        "Give the antibiotic until it is finished. Acetaminophen or ibuprofen help the pain.",
        "Call us if the fever lasts more than 2 more days.", oldest=11,
        drug="amoxicillin_liquid", remote=False,
    ),
)  # fmt: skip


@dataclass(frozen=True)
class Stay:
    """A hospital stay: its reason, what was found, and what was done."""

    key: str
    reason: str
    diagnosis: tuple[str, str]
    course: str
    instructions: str
    chest_x_ray: str = ""  # "pneumonia" or "clear"
    procedure: tuple[str, str] = ("", "")  # (SNOMED code, name)
    infection: bool = False


STAYS = (
    Stay(
        "pneumonia", "Fever, cough and shortness of breath", ("J18.9", "Pneumonia"),
        "Admitted with pneumonia of the right lower lung and a low oxygen level. Treated with "
        "antibiotics through a drip, then by mouth, and oxygen for two days. Fever settled and "
        "oxygen level returned to normal on room air.",
        "Finish the antibiotic tablets. Rest, drink plenty of fluids and build up your activity "
        "slowly. A follow-up chest X-ray is planned in 6 weeks.",
        chest_x_ray="pneumonia", infection=True,
    ),
    Stay(
        "cellulitis", "Red, swollen, painful leg", ("L03.116", "Cellulitis of the left leg"),
        "Admitted with a skin infection of the left lower leg. Treated with antibiotics through a "
        "drip; the redness shrank and the fever settled.",
        "Finish the antibiotic tablets and keep the leg raised when sitting. Come back at once if "
        "the redness spreads again.",
        infection=True,
    ),
    Stay(
        "appendicitis", "Pain in the lower right side of the abdomen", ("K35.80", "Acute appendicitis"),
        "Admitted with appendicitis. The appendix was removed by keyhole surgery the same day "
        "without complications.",
        "No heavy lifting for 2 weeks. Keep the wounds clean and dry; you may shower.",
        procedure=("80146002", "Appendectomy (removal of the appendix)"), infection=True,
    ),
    Stay(
        "chest_pain", "Chest pain", ("R07.9", "Chest pain; a heart attack was ruled out"),
        "Observed overnight for chest pain. Heart tracings and blood tests showed no heart "
        "attack. The pain was most likely from the chest wall muscles.",
        "Take acetaminophen for the pain. Call 911 for chest pain that is severe, spreads to the "
        "arm or jaw, or comes with shortness of breath.",
        chest_x_ray="clear",
    ),
)  # fmt: skip

CHEST_X_RAY = {
    "pneumonia": (
        "PA and lateral views of the chest. Patchy opacity in the right lower lobe. No pleural "
        "effusion or pneumothorax. The heart is normal in size.",
        "Right lower lobe pneumonia.",
    ),
    "clear": (
        "PA and lateral views of the chest. The lungs are clear. No pleural effusion or "
        "pneumothorax. The heart and mediastinum are normal in size. The bones are unremarkable.",
        "No acute disease in the chest.",
    ),
}
KNEE_MRI = (
    "Thinning of the cartilage in the medial compartment with small bony spurs. Degenerative tear "
    "of the posterior horn of the medial meniscus. The cruciate and collateral ligaments are "
    "intact. Small joint effusion.",
    "Moderate osteoarthritis of the medial compartment with a degenerative tear of the medial meniscus.",
)

# Childhood schedule (CDC): (vaccine, CVX code, age in days for each dose).
CHILDHOOD_SCHEDULE: tuple[tuple[str, str, tuple[int, ...]], ...] = (
    ("Hepatitis B, pediatric", "08", (0, 45, 180)),
    ("Rotavirus, pentavalent", "116", (60, 120, 180)),
    ("DTaP", "20", (60, 120, 180, 460, 1640)),
    ("Hib (PRP-OMP)", "49", (60, 120, 380)),
    ("Pneumococcal conjugate PCV13", "133", (60, 120, 180, 380)),
    ("IPV (polio)", "10", (60, 120, 270, 1640)),
    ("MMR", "03", (370, 1640)),
    ("Varicella (chickenpox)", "21", (370, 1640)),
    ("Hepatitis A, pediatric, 2 dose", "83", (370, 560)),
    ("Tdap", "115", (4100,)),
    ("HPV9", "165", (4100, 4300)),
    ("Meningococcal MenACWY (MCV4O)", "136", (4100, 5880)),
)
FLU = ("Influenza, seasonal, injectable, preservative free", "150")
FLU_HIGH_DOSE = ("Influenza, high-dose, seasonal", "197")
COVID_PRIMARY = ("COVID-19, mRNA (Pfizer-BioNTech), 30 mcg", "208")
COVID_UPDATED = ("COVID-19, updated formula", "213")
TDAP = ("Tdap", "115")
SHINGLES = ("Zoster recombinant (Shingrix)", "187")
PNEUMOCOCCAL = ("Pneumococcal conjugate PCV20", "216")

COLONOSCOPY = ("73761001", "Colonoscopy")

# Lab panels a hospital stay repeats each morning.
STAY_PANELS = (CBC, BMP)
