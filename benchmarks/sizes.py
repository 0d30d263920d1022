"""How much data the benchmark generates; importable before Django is set up."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sizes:
    """How much to generate; the defaults are the documented benchmark."""

    patients: int = 100_000
    notifications: int = 5_000
    tasks: int = 200
    audit_events: int = 20_000
    years: int = 10
    observations: int = 6_000  # the heavy patient's results and vital signs
    record_years: int = 1  # how much medical record each of the other patients gets
    appointments: int = 120  # the heavy patient's past visits
    appointment_share: float = 0.3  # the share of the other patients with a visit coming up
    threads: int = 20_000  # conversations in the heavy patient's care team's inbox
    messages: int = 100_000  # messages in them
    long_thread: int = 1_000  # of which in the heavy patient's longest conversation
