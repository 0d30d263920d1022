"""The portal's Prometheus metrics, kept in each process (or, with PROMETHEUS_MULTIPROC_DIR
set before the process starts, in files shared by every gunicorn worker).

Only prometheus-client here, no Django: this module also loads in processes that just
count. What the database knows (queue depth, outbox lag, heartbeats) is read at scrape
time by `state.py`.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

# The targets are p95 <= 150 ms for pages and <= 300 ms under load: both are bucket edges.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0, 2.5, 5.0, 10.0)

requests = Counter(
    "portal_http_requests",
    "HTTP requests answered, by URL pattern, method and status class.",
    ["route", "method", "status"],
)
request_duration = Histogram(
    "portal_http_request_duration_seconds",
    "Time to answer an HTTP request (until the response is handed back), by URL pattern, method and status class.",
    ["route", "method", "status"],
    buckets=LATENCY_BUCKETS,
)
failed_sign_ins = Counter(
    "portal_failed_sign_ins",
    "Failed sign-in attempts, by step: a wrong username or password, or a wrong second factor.",
    ["step"],
)


def status_class(status: int) -> str:
    return f"{status // 100}xx"


def observe_request(route: str, method: str, status: int, seconds: float) -> None:
    labels = (route, method, status_class(status))
    requests.labels(*labels).inc()
    request_duration.labels(*labels).observe(seconds)
