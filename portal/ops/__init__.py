"""Operations: backing the portal up and restoring it (docs/operations.md)."""
