"""Users, sign-in and account settings."""
