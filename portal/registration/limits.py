"""Attempt counters for the public registration forms, kept in the cache.

The cache is Redis when REDIS_URL is set, so the counts hold across app servers; the
local-memory default counts per process, which is enough for one machine. Windows are
fixed (they start at the first attempt), which is all a brute-force brake needs.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

HOUR = 60 * 60
DAY = 24 * HOUR


@dataclass(frozen=True)
class Limit:
    """At most `allowed` attempts per `window` seconds for one key."""

    name: str
    allowed: int
    window: int

    def key(self, value: str) -> str:
        # Hashed so no clinic number or address sits in the cache in clear.
        digest = hashlib.sha256(value.encode()).hexdigest()[:40]
        return f"registration:limit:{self.name}:{digest}"

    def hit(self, value: str) -> bool:
        """Count one attempt; True while the key is within its allowance."""
        key = self.key(value)
        cache.add(key, 0, timeout=self.window)
        try:
            count = cache.incr(key)
        except ValueError:
            # The entry expired between add and incr: this is the first of a new window.
            cache.set(key, 1, timeout=self.window)
            count = 1
        return count <= self.allowed


def per_address() -> Limit:
    return Limit("address", settings.PORTAL_REGISTRATION_ATTEMPTS_PER_ADDRESS, HOUR)


def per_patient() -> Limit:
    return Limit("patient", settings.PORTAL_REGISTRATION_ATTEMPTS_PER_PATIENT, DAY)


def requests_per_address() -> Limit:
    return Limit("request", settings.PORTAL_REGISTRATION_ATTEMPTS_PER_ADDRESS, HOUR)


def allow_attempt(client_ip: str | None, clinic_number: str) -> bool:
    """Count a create-account attempt against the address and the clinic number.

    The clinic number is counted as typed (normalised), whether or not a patient has
    it, so running into the limit says nothing about which numbers exist.
    """
    address_ok = per_address().hit(client_ip or "unknown")
    patient_ok = per_patient().hit(clinic_number)
    return address_ok and patient_ok


def allow_request(client_ip: str | None) -> bool:
    return requests_per_address().hit(client_ip or "unknown")
