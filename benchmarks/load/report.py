"""The load test's numbers: throughput, latency percentiles and errors, per request type."""

from __future__ import annotations

import math
import os
from typing import Any

from benchmarks.load.generator import Stats


def percentile(sorted_values: list[float], share: float) -> float:
    """Nearest-rank percentile, as the page benchmark reports p95."""
    if not sorted_values:
        return 0.0
    return sorted_values[max(0, math.ceil(share * len(sorted_values)) - 1)]


def _latencies(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)
    return {
        "p50_ms": round(percentile(ordered, 0.50) * 1000, 1),
        "p95_ms": round(percentile(ordered, 0.95) * 1000, 1),
        "p99_ms": round(percentile(ordered, 0.99) * 1000, 1),
    }


def summarise(stats: Stats, window_start: float, window_seconds: float, client_cpu: float) -> dict[str, Any]:
    """Requests that started inside the measured window (after the warm-up) count for
    throughput and latency; errors count over the whole run, warm-up included."""
    window_end = window_start + window_seconds
    counted = [s for s in stats.samples if window_start <= s.started < window_end]
    errors = [s for s in stats.samples if not s.ok]
    cores = os.cpu_count() or 1
    per_kind: dict[str, Any] = {}
    for kind in sorted({s.kind for s in stats.samples}):
        mine = [s for s in counted if s.kind == kind]
        per_kind[kind] = {
            "requests": len(mine),
            "all_requests": sum(1 for s in stats.samples if s.kind == kind),
            "statuses": _statuses(mine),
            **_latencies([s.seconds for s in mine]),
        }
    throughput = len(counted) / window_seconds if window_seconds else 0.0
    return {
        "requests": len(counted),
        "requests_per_second": round(throughput, 1),
        "requests_per_second_per_core": round(throughput / cores, 1),
        "cores": cores,
        **_latencies([s.seconds for s in counted]),
        "errors": len(errors),
        "error_examples": sorted({s.note for s in errors})[:10],
        "client_cpu_seconds": round(client_cpu, 1),
        "by_type": per_kind,
    }


def _statuses(samples: list[Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for sample in samples:
        counts[str(sample.status)] = counts.get(str(sample.status), 0) + 1
    return counts
