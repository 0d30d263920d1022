"""Text-message providers: one base class, one module per provider, a registry by name."""
