"""Campuses, departments, practitioners and care teams."""
