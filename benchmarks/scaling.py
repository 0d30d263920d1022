"""The scaling table: each page at the smallest and the largest organisation measured.

The issue's rule is that no page or search is more than 1.5 times slower at 100,000 patients
than at 1,000, and that every patient page's p95 stays within 150 ms for the heavy
patient. `benchmarks.run` labels each run's database with the organisation's size, and
this module pairs the rows of the results table that differ only in that size.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

SCALING_START = "<!-- scaling:start -->"
SCALING_END = "<!-- scaling:end -->"
SCALING_LIMIT = 1.5
P95_TARGET_MS = 150.0
SCALING_HEADER = (
    "| date | machine | database | page | median ms, small | median ms, large | median ratio "
    "| p95 ms, small | p95 ms, large | within 1.5 times | p95 ≤ 150 ms |\n"
    "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- |"
)
SIZE_SUFFIX = re.compile(r"^(?P<database>.+), (?P<patients>[\d,]+) patients$")


def size_label(patients: int) -> str:
    """The organisation's size to two significant figures: 100,013 patients is "100,000 patients"."""
    if patients < 100:
        return f"{patients:,} patients"
    digits = len(str(patients)) - 2
    return f"{round(patients, -digits):,} patients"


@dataclass(frozen=True)
class Row:
    """A results-table row, the cells this table needs."""

    day: str
    machine: str
    database: str
    patients: int
    page: str
    median_ms: float
    p95_ms: float


def parse_rows(table: str) -> list[Row]:
    rows = []
    for line in table.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) < 6 or not line.startswith("|"):
            continue
        sized = SIZE_SUFFIX.match(cells[2])
        if sized is None:
            continue
        patients = int(sized["patients"].replace(",", ""))
        try:
            median, p95 = float(cells[4]), float(cells[5])
        except ValueError:
            continue
        rows.append(Row(cells[0], cells[1], sized["database"], patients, cells[3], median, p95))
    return rows


def scaling_rows(rows: list[Row]) -> list[str]:
    """One line per page measured at two sizes on the same day, machine and database."""
    groups: dict[tuple[str, str, str, str], list[Row]] = {}
    for row in rows:
        groups.setdefault((row.day, row.machine, row.database, row.page), []).append(row)
    lines = []
    for (day, machine, database, page), sized in groups.items():
        small, large = min(sized, key=_size), max(sized, key=_size)
        if small.patients == large.patients:
            continue
        ratio = large.median_ms / small.median_ms if small.median_ms else float("inf")
        cells = [
            day, machine, f"{database}, {small.patients:,} → {large.patients:,} patients", page,
            f"{small.median_ms:.1f}", f"{large.median_ms:.1f}", f"{ratio:.2f}",
            f"{small.p95_ms:.1f}", f"{large.p95_ms:.1f}",
            _verdict(ratio <= SCALING_LIMIT), _verdict(large.p95_ms <= P95_TARGET_MS),
        ]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _size(row: Row) -> int:
    return row.patients


def _verdict(kept: bool) -> str:
    return "yes" if kept else "**no**"


def record_scaling(path: Path, results_table: str) -> list[str]:
    """Rewrite the scaling table from the results table; return its rows."""
    lines = scaling_rows(parse_rows(results_table))
    text = path.read_text(encoding="utf-8")
    if SCALING_START not in text:
        text = f"{text.rstrip()}\n\n## Scaling\n\n{SCALING_START}\n{SCALING_END}\n"
    head, rest = text.split(SCALING_START, 1)
    _, tail = rest.split(SCALING_END, 1)
    body = "\n".join([SCALING_HEADER, *lines])
    path.write_text(f"{head}{SCALING_START}\n{body}\n{SCALING_END}{tail}", encoding="utf-8")
    return lines
