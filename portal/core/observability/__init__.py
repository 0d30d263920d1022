"""Observability: request ids and structured logs, Prometheus metrics, readiness and the
worker's heartbeat (docs/observability.md)."""
