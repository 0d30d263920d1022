"""Site-wide plumbing: middleware, health checks, error pages and the design system."""
