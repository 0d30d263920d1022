"""Searchset Bundles: entries, `_include`d resources, paging links, and `Patient/$everything`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.core import signing
from django.db import models

from portal.fhir.api.auth import ApiGrant
from portal.fhir.api.outcome import issue, outcome
from portal.fhir.api.registry import ResourceType, SearchError
from portal.fhir.api.search import (
    PAGE_SALT,
    after,
    decode_key,
    encode_key,
    ordered,
    ordering,
    restricted,
    row_key,
)


@dataclass
class Searchset:
    """A Bundle being built: the base URL (".../fhir/r4/"), its entries and links."""

    base: str
    entries: list[dict[str, Any]] = field(default_factory=list)
    links: list[dict[str, str]] = field(default_factory=list)
    seen: set[tuple[str, str]] = field(default_factory=set)

    def add(self, resource: dict[str, Any], mode: str = "match") -> None:
        key = (str(resource["resourceType"]), str(resource.get("id", "")))
        if key in self.seen:
            return
        self.seen.add(key)
        self.entries.append(
            {"fullUrl": f"{self.base}{key[0]}/{key[1]}", "resource": resource, "search": {"mode": mode}}
        )

    def link(self, relation: str, path: str, params: list[tuple[str, str]]) -> None:
        query = urlencode(params)
        self.links.append(
            {"relation": relation, "url": f"{self.base}{path}" + (f"?{query}" if query else "")}
        )

    def warn(self, ignored: list[str]) -> None:
        if ignored:
            names = ", ".join(ignored)
            message = f"These search parameters are not supported and were ignored: {names}"
            self.entries.append(
                {
                    "resource": outcome([issue("warning", "not-supported", message)]),
                    "search": {"mode": "outcome"},
                }
            )

    def bundle(self) -> dict[str, Any]:
        return {"resourceType": "Bundle", "type": "searchset", "link": self.links, "entry": self.entries}


def add_includes(
    found: Searchset,
    resource_type: ResourceType,
    rows: list[Any],
    includes: list[str],
    grant: ApiGrant,
    types: dict[str, ResourceType],
) -> int:
    """Add the `_include`d resources of the page's rows (one query per include); how many were added.

    Targets come only from the target type's `rows(grant)`, after the grant's scopes for
    it, so an include can never reach what a direct read could not.
    """
    added = 0
    for name in includes:
        target_name, target_of = resource_type.include_targets.get(name, ("", None))
        target = types.get(target_name)
        if target is None or target_of is None or not grant.allows(target_name, "read"):
            continue
        pks = {pk for pk in (target_of(row) for row in rows) if pk is not None}
        if not pks:
            continue
        for row in restricted(target, target.rows(grant), grant, "read").filter(pk__in=sorted(pks)):
            before = len(found.entries)
            found.add(target.to_fhir(row, grant), mode="include")
            added += len(found.entries) - before
    return added


# Patient/$everything ---------------------------------------------------------------------------


def everything_types(grant: ApiGrant, types: dict[str, ResourceType]) -> list[ResourceType]:
    """The types the grant may both read and search (listing everything is a search), Patient
    first, then by name (a stable order for paging)."""
    allowed = [
        kind for name, kind in types.items() if grant.allows(name, "read") and grant.allows(name, "search")
    ]
    return sorted(allowed, key=lambda kind: (kind.name != "Patient", kind.name))


def everything_cursor(scope: str, index: int, key: list[Any] | None) -> str:
    encoded = [encode_key(value) for value in key] if key is not None else None
    return signing.dumps({"s": scope, "i": index, "k": encoded}, salt=PAGE_SALT, compress=True)


def read_everything_cursor(token: str, scope: str) -> tuple[int, list[Any] | None]:
    try:
        data = signing.loads(token, salt=PAGE_SALT)
        if data["s"] != scope or not isinstance(data["i"], int):
            raise ValueError
        key = [decode_key(item) for item in data["k"]] if data["k"] is not None else None
        return data["i"], key
    except (signing.BadSignature, ValueError, KeyError, TypeError, IndexError, ArithmeticError):
        raise SearchError("The _page token is not valid for this request.") from None


@dataclass
class EverythingPage:
    rows: list[tuple[ResourceType, Any]]
    next_cursor: tuple[int, list[Any] | None] | None


def everything_page(
    kinds: list[ResourceType], grant: ApiGrant, count: int, start: tuple[int, list[Any] | None]
) -> EverythingPage:
    """`count` rows across the types, from the cursor on; at most one query per type."""
    index, key = start
    found: list[tuple[ResourceType, Any]] = []
    for position in range(max(index, 0), len(kinds)):
        kind = kinds[position]
        fields = ordering(kind, [])
        rows_query: models.QuerySet[Any] = ordered(
            restricted(kind, kind.rows(grant), grant, "search"), fields
        )
        if position == index and key is not None:
            if len(key) != len(fields):
                raise SearchError("The _page token is not valid for this request.")
            rows_query = rows_query.filter(after(fields, key))
        need = count - len(found)
        rows = list(rows_query[: need + 1])
        if len(rows) > need:
            found += [(kind, row) for row in rows[:need]]
            resume = row_key(rows[need - 1], fields) if need > 0 else (key if position == index else None)
            return EverythingPage(found, (position, resume))
        found += [(kind, row) for row in rows]
    return EverythingPage(found, None)
