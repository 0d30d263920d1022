"""Patients, proxy grants, care relationships and the one access policy."""
