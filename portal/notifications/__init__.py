"""Notifications (in the portal, by email and by text message), the outbox that sends them, and patient tasks."""
