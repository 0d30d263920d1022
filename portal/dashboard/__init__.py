"""The patient dashboard: a page of cards that each capability contributes."""
