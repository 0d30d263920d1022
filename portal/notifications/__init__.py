"""In-app notifications and patient tasks (email and SMS delivery come later)."""
