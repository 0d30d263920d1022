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
    everything_rows_of,
    is_searchable,
    ordered,
    ordering,
    parts_of,
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
    total: int | None = None  # only when asked for (`_total=accurate`)

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
        found: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset"}
        if self.total is not None:
            found["total"] = self.total
        return found | {"link": self.links, "entry": self.entries}


def _target_pks(value: Any) -> set[int]:
    """The pks one row names for an include: none, one, or (a care team's members) several."""
    if value is None:
        return set()
    if isinstance(value, int):
        return {value}
    return {pk for pk in value if pk is not None}


def add_includes(
    found: Searchset,
    rows: list[tuple[ResourceType, Any]],
    includes: list[str],
    grant: ApiGrant,
    types: dict[str, ResourceType],
) -> int:
    """Add the `_include`d resources of the page's rows, each (part, row); how many were added.

    One query per include and target type. Targets come only from the target type's
    `rows(grant)`, after the grant's scopes for it, so an include can never reach what a
    direct read could not. A target served from several models is never an include target
    (a bare pk would not say which).
    """
    added = 0
    for name in includes:
        pks_by_target: dict[str, set[int]] = {}
        for part, row in rows:
            target_name, target_of = part.include_targets.get(name, ("", None))
            if target_of is not None:
                pks_by_target.setdefault(target_name, set()).update(_target_pks(target_of(row)))
        for target_name, pks in pks_by_target.items():
            target = types.get(target_name)
            if (
                target is None
                or not pks
                or len(parts_of(target)) > 1
                or not grant.allows(target_name, "read")
            ):
                continue
            for row in restricted(target, target.rows(grant), grant, "read").filter(pk__in=sorted(pks)):
                before = len(found.entries)
                found.add(target.to_fhir(row, grant), mode="include")
                added += len(found.entries) - before
    return added


# Patient/$everything ---------------------------------------------------------------------------


def everything_types(grant: ApiGrant, types: dict[str, ResourceType]) -> list[ResourceType]:
    """The parts of the types the grant may both read and search (listing everything is a
    search), Patient first, then by name (a stable order for paging).

    Types that are only read by id (Binary) are left out: the DocumentReferences listed
    carry the address of each one's content.
    """
    allowed = [
        kind
        for name, kind in types.items()
        if is_searchable(kind) and grant.allows(name, "read") and grant.allows(name, "search")
    ]
    ordered_kinds = sorted(allowed, key=lambda kind: (kind.name != "Patient", kind.name))
    return [part for kind in ordered_kinds for part in parts_of(kind)]


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
            restricted(kind, everything_rows_of(kind)(grant), grant, "search"), fields
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
