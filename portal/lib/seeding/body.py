"""An invented patient's body: the values their tests and vital signs come out at.

Each person has a set point per test (where they sit in the population, for life), their
conditions shift the usual values (diabetes raises glucose, kidney disease creatinine),
and each measurement adds day-to-day variation. Results a lab computes from others are
computed the same way (eGFR from creatinine, LDL by the Friedewald formula).
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from portal.lib.seeding import clinical_catalog as catalog
from portal.lib.seeding.lab_catalog import TESTS, TEXT_TESTS, LabTest, Panel
from portal.records.models import Observation

ADULT = 18
Flag = Observation.Interpretation


@dataclass
class Profile:
    """Who the patient is, clinically: conditions (with onset) and body measurements."""

    conditions: dict[str, dt.date]
    allergies: list[catalog.AllergySpec]
    height_cm: float
    bmi: float
    set_points: dict[str, float] = field(default_factory=dict)
    knee_mri: bool = False
    tramadol: bool = False
    hospital_stays: tuple[str, ...] | None = None  # None: by chance

    def has(self, key: str, on: dt.date | None = None) -> bool:
        """Whether the person has the condition (by `on`, if given)."""
        onset = self.conditions.get(key)
        return onset is not None and (on is None or onset <= on)


def flag_for(value: Decimal, test: LabTest, male: bool) -> str:
    """The lab's flag for a value: critical beyond the critical limits, else high or low."""
    low, high = test.reference(male)
    critical_low, critical_high = test.critical
    number = float(value)
    if critical_low is not None and number < critical_low:
        return Flag.CRITICAL_LOW
    if critical_high is not None and number > critical_high:
        return Flag.CRITICAL_HIGH
    if low is not None and number < low:
        return Flag.LOW
    if high is not None and number > high:
        return Flag.HIGH
    return Flag.NORMAL


def egfr(creatinine: float, age: float, female: bool) -> float:
    """CKD-EPI 2021 (race-free) estimate, as US labs report beside creatinine."""
    kappa, alpha = (0.7, -0.241) if female else (0.9, -0.302)
    ratio = creatinine / kappa
    value = 142 * min(ratio, 1) ** alpha * max(ratio, 1) ** -1.2 * 0.9938**age
    return value * 1.012 if female else value


def as_decimal(value: float, decimals: int) -> Decimal:
    return Decimal(f"{value:.{decimals}f}")


class Body:
    """Draws one person's measurements from their profile, with the history's random stream."""

    def __init__(self, rng: random.Random, profile: Profile, born: dt.date, male: bool) -> None:
        self.rng = rng
        self.profile = profile
        self.born = born
        self.male = male
        self.weight_drift = 0.0

    def age_on(self, day: dt.date) -> float:
        return (day - self.born).days / 365.25

    def has(self, key: str, on: dt.date | None = None) -> bool:
        return self.profile.has(key, on)

    def set_point(self, code: str) -> float:
        """Where this person's value sits in the population, fixed for life (a z-score)."""
        point = self.profile.set_points.get(code)
        if point is None:
            point = self.profile.set_points[code] = self.rng.gauss(0, 0.7)
        return point

    def draw_panel(self, panel: Panel, day: dt.date, *, infection: bool = False) -> dict[str, float | str]:
        """Values for one panel on one day: this person's set point, their conditions, and chance."""
        values: dict[str, float | str] = {}
        for code in panel.tests:
            values[code] = self._draw(TESTS[code], day)
        self._derive(values, day)
        if infection and "6690-2" in values:
            values["6690-2"] = round(float(values["6690-2"]) + self.rng.uniform(4, 9), 1)
        for code in panel.text_tests:
            text = TEXT_TESTS[code]
            abnormal = infection and code in ("5799-2", "5802-4", "5794-3")
            abnormal = abnormal or self.rng.random() < (0.03 if code in ("21613-5", "24111-7") else 0.04)
            values[code] = self.rng.choice(text.abnormal) if abnormal else text.normal
        if self.rng.random() < 0.004:
            self._critical(values)
        return values

    def _draw(self, test: LabTest, day: dt.date) -> float:
        mean, spread = self._usual(test, day)
        z = self.set_point(test.code) + self.rng.gauss(0, 0.7)
        value = mean * math.exp(spread * z) if test.skewed else mean + spread * z
        low, high = test.bounds
        return round(min(max(value, low), high), test.decimals)

    def _usual(self, test: LabTest, day: dt.date) -> tuple[float, float]:
        """The mean and spread for this person on this day, shifted by their conditions."""
        code = test.code
        mean, spread = test.usual(self.male), test.spread
        if code in ("2345-7", "4548-4") and self.has("diabetes", day):
            return (140.0, 30.0) if code == "2345-7" else (7.1, 0.8)
        if code in ("2345-7", "4548-4") and self.has("prediabetes", day):
            return (104.0, 7.0) if code == "2345-7" else (6.0, 0.17)
        if code == "13457-7" and self.has("hyperlipidemia", day):
            return 128.0, 30.0
        if code == "2160-0" and self.has("ckd", day):
            return mean * 1.6, spread * 1.5
        if code == "3016-3" and self.has("hypothyroidism", day):
            return 2.4, 0.45
        if code == "62292-8" and self.has("vitamin_d", day):
            return 18.0, 0.3
        if code == "2823-3" and self.has("hypertension", day):
            return mean + 0.15, spread
        if code == "2857-1":
            return mean * (1 + max(self.age_on(day) - 50, 0) / 25), spread
        return mean, spread

    def _derive(self, values: dict[str, float | str], day: dt.date) -> None:
        """Results computed from others, as the lab computes them."""
        if "2160-0" in values and "98979-8" in values:
            estimate = egfr(float(values["2160-0"]), self.age_on(day), female=not self.male)
            values["98979-8"] = round(min(estimate, 160))
        if "718-7" in values and "4544-3" in values:
            hematocrit = float(values["718-7"]) * 2.95 + self.rng.gauss(0, 0.6)
            values["4544-3"] = round(hematocrit, 1)
            values["789-8"] = round(hematocrit * 10 / float(values["787-2"]), 2)
        if "13457-7" in values and "2093-3" in values:
            total = float(values["13457-7"]) + float(values["2085-9"]) + float(values["2571-8"]) / 5
            values["2093-3"] = round(total)

    def _critical(self, values: dict[str, float | str]) -> None:
        """Very rarely a value the lab phones through: far past a critical limit."""
        candidates = [code for code in values if code in TESTS and any(TESTS[code].critical)]
        if not candidates:
            return
        test = TESTS[self.rng.choice(candidates)]
        low, high = test.critical
        if high is not None and (low is None or self.rng.random() < 0.6):
            values[test.code] = round(high * 1.06, test.decimals)
        elif low is not None:
            values[test.code] = round(low * 0.92, test.decimals)

    def vital_signs(self, day: dt.date, *, fever: bool = False) -> Iterator[tuple[str, float]]:
        """Vital signs as a nurse takes them: blood pressure from age 3, BMI from age 2."""
        age = self.age_on(day)
        gauss = self.rng.gauss
        if age >= 3:
            systolic = self._usual_systolic(age, day) + 9 * self.set_point("8480-6") + gauss(0, 7)
            yield "8480-6", round(systolic)
            yield "8462-4", round(systolic * 0.55 + 10 + gauss(0, 4))
        resting = 130 if age < 1 else 110 if age < 5 else 90 if age < 12 else 72
        yield "8867-4", round(resting + 8 * self.set_point("8867-4") + gauss(0, 6) + (12 if fever else 0))
        if fever or self.rng.random() < 0.1:
            yield "9279-1", round((30 if age < 2 else 16) + gauss(0, 2) + (6 if fever else 0))
        if fever or self.rng.random() < 0.25:
            yield "8310-5", round((38.6 if fever else 36.8) + gauss(0, 0.25), 1)
        if fever or (age >= ADULT and self.rng.random() < 0.25):
            yield "59408-5", round(min((93 if fever else 98) + gauss(0, 1), 100))
        height = self._height(age)
        weight = self._weight(age, height)
        yield "29463-7", round(weight, 1)
        if age < ADULT or self.rng.random() < 0.25:
            yield "8302-2", round(height, 1)
        if age >= 2:
            yield "39156-5", round(weight / (height / 100) ** 2, 1)

    def _usual_systolic(self, age: float, day: dt.date) -> float:
        if age < ADULT:
            return 92 + age * 1.3
        return 114 + max(age - 30, 0) * 0.35 + (14 if self.has("hypertension", day) else 0)

    def _height(self, age: float) -> float:
        """Adult height, or a child's on a rough growth curve scaled to their adult height."""
        adult = self.profile.height_cm
        if age >= ADULT:
            return adult
        curve = ((0, 0.29), (1, 0.43), (2, 0.5), (4, 0.59), (8, 0.74), (12, 0.87), (15, 0.96), (18, 1.0))
        for (young, low), (old, high) in itertools.pairwise(curve):
            if young <= age < old:
                return adult * (low + (high - low) * (age - young) / (old - young))
        return adult

    def _weight(self, age: float, height: float) -> float:
        if age < ADULT:
            bmi = 13.5 + age * 0.9 if age < 1 else 16 + max(age - 6, 0) * 0.45
            bmi *= self.profile.bmi / 27
        else:
            self.weight_drift += self.rng.gauss(0, 0.4)
            bmi = self.profile.bmi
        return bmi * (height / 100) ** 2 + (self.weight_drift if age >= ADULT else 0)
