"""Self-registration: activation codes, creating an account, and requests for access."""
