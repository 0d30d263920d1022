"""The append-only, hash-chained audit trail and the patient's access log."""
