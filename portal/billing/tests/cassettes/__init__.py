"""Recorded HTTP exchanges with outside services, replayed by the tests (no network)."""
