"""What an import says back: every problem with where it is, or what it changed for each patient."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a file, and where: a FHIR entry and field, or an HL7 line and field."""

    message: str
    entry: int | None = None
    resource: str = ""
    path: str = ""
    line: int | None = None

    @property
    def location(self) -> str:
        parts = []
        if self.entry is not None:
            parts.append(f"entry {self.entry}")
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.resource:
            parts.append(f"({self.resource})" if parts else self.resource)
        if self.path:
            parts.append(self.path)
        return " ".join(parts) or "file"

    def as_dict(self) -> dict[str, Any]:
        found = {"entry": self.entry, "line": self.line, "resource": self.resource, "path": self.path}
        return {"location": self.location, "message": self.message} | {
            key: value for key, value in found.items() if value not in (None, "")
        }


class Rejected(Exception):
    """The file is refused whole; nothing it holds was saved."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = problems


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0

    @property
    def changed(self) -> int:
        return self.created + self.updated + self.removed

    def as_dict(self) -> dict[str, int]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "removed": self.removed,
        }


@dataclass
class ImportReport:
    """The outcome of one file: accepted with counts per patient and record type, or rejected with problems."""

    name: str
    format: str = ""
    digest: str = ""
    problems: list[Problem] = field(default_factory=list)
    already_imported: bool = False
    # clinic number -> record type (model name) -> counts
    patients: dict[str, dict[str, Counts]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def accepted(self) -> bool:
        return not self.problems

    @property
    def changed(self) -> bool:
        return any(counts.changed for types in self.patients.values() for counts in types.values())

    def count(self, clinic_number: str, record_type: str) -> Counts:
        return self.patients.setdefault(clinic_number, {}).setdefault(record_type, Counts())

    def counts_dict(self) -> dict[str, dict[str, dict[str, int]]]:
        return {
            number: {kind: counts.as_dict() for kind, counts in sorted(types.items())}
            for number, types in sorted(self.patients.items())
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "format": self.format,
            "digest": self.digest,
            "accepted": self.accepted,
            "already_imported": self.already_imported,
            "patients": self.counts_dict(),
            "notes": self.notes,
            "problems": [problem.as_dict() for problem in self.problems],
        }

    def as_text(self) -> str:
        """The report as a person reads it at a terminal."""
        if self.problems:
            lines = [f"Rejected {self.name}: {len(self.problems)} problem(s); nothing was saved."]
            lines += [f"  {problem.location}: {problem.message}" for problem in self.problems]
            return "\n".join(lines)
        if self.already_imported:
            return f"{self.name} was already imported (same content); nothing changed."
        lines = [f"Imported {self.name} ({self.format})."]
        for number, types in sorted(self.patients.items()):
            lines.append(f"  Patient {number}:")
            for kind, counts in sorted(types.items()):
                lines.append(
                    f"    {kind}: {counts.created} created, {counts.updated} updated, "
                    f"{counts.unchanged} unchanged"
                    + (f", {counts.removed} removed" if counts.removed else "")
                )
        lines += [f"  Note: {note}" for note in self.notes]
        return "\n".join(lines)

    def operation_outcome(self) -> dict[str, Any]:
        """The problems (or a single informational issue) as a FHIR OperationOutcome."""
        if not self.problems:
            return {
                "resourceType": "OperationOutcome",
                "issue": [
                    {"severity": "information", "code": "informational", "diagnostics": self.as_text()}
                ],
            }
        return {
            "resourceType": "OperationOutcome",
            "issue": [_issue(problem) for problem in self.problems],
        }


def _issue(problem: Problem) -> dict[str, Any]:
    issue: dict[str, Any] = {
        "severity": "error",
        "code": "invalid",
        "diagnostics": f"{problem.location}: {problem.message}",
        "location": [problem.location],
    }
    if problem.path:
        issue["expression"] = [problem.path]
    return issue
