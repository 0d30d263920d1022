"""The scaling table pairs the same page measured at two organisation sizes."""

from __future__ import annotations

from pathlib import Path

from benchmarks.scaling import SCALING_START, record_scaling, size_label

MACHINE = "2 CPUs (test), Linux x86_64, Python 3.11.7"
RESULTS = "\n".join(
    f"| 2026-11-24 | {MACHINE} | SQLite 3.40.1, {size} patients | {page} | {median} | {p95} | 20 | 0.3 | 4 | 1.0 | 9 | 3.0 |"
    for size, page, median, p95 in [
        ("1,000", "dashboard", "20.0", "25.0"),
        ("100,000", "dashboard", "24.0", "30.0"),
        ("1,000", "inbox queue", "40.0", "45.0"),
        ("100,000", "inbox queue", "70.0", "160.0"),
        ("100,000", "API lab values", "7.0", "8.0"),
    ]
)


def test_sizes_are_labelled_to_two_significant_figures() -> None:
    assert size_label(100_013) == "100,000 patients"
    assert size_label(1_013) == "1,000 patients"
    assert size_label(51) == "51 patients"


def test_it_compares_each_page_at_both_sizes(tmp_path: Path) -> None:
    docs = tmp_path / "benchmarks.md"
    docs.write_text("# Benchmarks\n", encoding="utf-8")
    lines = record_scaling(docs, RESULTS)
    assert len(lines) == 2  # the API row was measured at one size only
    dashboard, inbox = lines
    assert "| dashboard | 20.0 | 24.0 | 1.20 |" in dashboard and dashboard.endswith("| yes | yes |")
    assert "| inbox queue | 40.0 | 70.0 | 1.75 |" in inbox and inbox.endswith("| **no** | **no** |")
    assert "1,000 → 100,000 patients" in dashboard
    record_scaling(docs, RESULTS)
    text = docs.read_text(encoding="utf-8")
    assert text.count(SCALING_START) == 1 and text.count("| inbox queue |") == 1
