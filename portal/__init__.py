"""A self-hostable patient portal."""
