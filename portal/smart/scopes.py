"""SMART App Launch scopes: parsing v1 (`patient/Observation.read`) and v2 (`patient/Observation.rs`,
with granular `?category=` restrictions) into what an app may read.

The portal's API is read-only, so a scope grants at most read (`r`) and search (`s`);
`c`, `u`, `d` and v1 `.write` grant nothing and are dropped from what is granted. A
`user/` scope is read as a `patient/` one: a patient-facing token is always bound to one
patient, whoever signed in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode

# Scopes that are not about resources, and which the portal supports.
CONTEXT_SCOPES = frozenset({"launch/patient", "openid", "fhirUser", "offline_access", "online_access"})
READ, SEARCH = "read", "search"

_RESOURCE = re.compile(
    r"^(?P<context>patient|user|system)/(?P<type>\*|[A-Z][A-Za-z]{1,63})\.(?P<perms>read|write|\*|[cruds]{1,5})"
    r"(?:\?(?P<query>[^\s]{1,500}))?$"
)


@dataclass(frozen=True)
class ResourceScope:
    """One resource scope, reduced to what the read-only API can grant."""

    context: str
    resource_type: str  # a FHIR resource type, or "*"
    read: bool
    search: bool
    query: tuple[tuple[str, str], ...] = ()  # v2 granular restriction, e.g. (("category", "...|laboratory"),)

    def covers(self, resource_type: str, interaction: str) -> bool:
        if self.resource_type not in ("*", resource_type):
            return False
        return self.read if interaction == READ else self.search

    def text(self) -> str:
        """The scope in v2 syntax, as granted."""
        perms = ("r" if self.read else "") + ("s" if self.search else "")
        # Re-encoded, so a decoded space or ampersand cannot split one granted scope into several.
        query = urlencode(self.query, safe="|:/")
        return f"{self.context}/{self.resource_type}.{perms}" + (f"?{query}" if query else "")


@dataclass
class Scopes:
    """A parsed scope string: resource scopes, context scopes, and what was not understood."""

    resources: list[ResourceScope] = field(default_factory=list)
    context: set[str] = field(default_factory=set)
    unknown: list[str] = field(default_factory=list)

    def allows(self, resource_type: str, interaction: str) -> bool:
        return any(scope.covers(resource_type, interaction) for scope in self.resources)

    def restrictions(self, resource_type: str, interaction: str) -> list[tuple[tuple[str, str], ...]] | None:
        """None when some scope allows the interaction without restriction; otherwise the
        granular restrictions (any one of which a row must satisfy)."""
        found = [scope.query for scope in self.resources if scope.covers(resource_type, interaction)]
        if any(not query for query in found):
            return None
        return found

    @property
    def patient_launch(self) -> bool:
        return "launch/patient" in self.context

    @property
    def offline(self) -> bool:
        return "offline_access" in self.context

    def text(self) -> str:
        """The granted scopes as one space-separated string (resource scopes in v2 syntax)."""
        parts = sorted(self.context) + [scope.text() for scope in self.resources]
        return " ".join(dict.fromkeys(parts))


def parse(scope_string: str) -> Scopes:
    """Parse a space-separated scope string; nothing in it raises."""
    scopes = Scopes()
    for token in (scope_string or "").split()[:100]:
        if token in CONTEXT_SCOPES:
            scopes.context.add(token)
            continue
        resource = _resource(token)
        if resource is None:
            scopes.unknown.append(token[:200])
        elif resource.read or resource.search:
            scopes.resources.append(resource)
    return scopes


def _resource(token: str) -> ResourceScope | None:
    match = _RESOURCE.match(token)
    if match is None or match["context"] == "system":
        return None
    perms = match["perms"]
    if perms in ("read", "*"):
        read = search = True
    elif perms == "write":
        read = search = False
    else:
        if len(set(perms)) != len(perms) or perms != "".join(c for c in "cruds" if c in perms):
            return None  # v2 requires the letters once each, in the order c r u d s
        read, search = "r" in perms, "s" in perms
    query = tuple(parse_qsl(match["query"] or "", keep_blank_values=False))
    if any(not part.isprintable() or any(c.isspace() for c in part) for pair in query for part in pair):
        return None  # a restriction value with spaces or control characters is not a scope we grant
    return ResourceScope("patient", match["type"], read, search, query)


def narrow(requested: Scopes, kept: set[str]) -> Scopes:
    """The requested scopes limited to those the person kept on the consent screen (by `text()`)."""
    return Scopes(
        resources=[scope for scope in requested.resources if scope.text() in kept],
        context={scope for scope in requested.context if scope in kept or scope == "launch/patient"},
    )
