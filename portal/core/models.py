"""The core app has no models; it holds templates, static files and middleware."""
