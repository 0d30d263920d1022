from __future__ import annotations

from django.contrib.auth.hashers import Argon2PasswordHasher


class FastArgon2PasswordHasher(Argon2PasswordHasher):
    """Argon2id at a token cost, for the test settings only."""

    time_cost = 1
    memory_cost = 256
    parallelism = 1
