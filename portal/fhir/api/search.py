"""Search: reading FHIR search parameters into querysets, and keyset paging.

Resource modules build their `SearchParam.apply` callables with the helpers here
(`date_param`, `token_param`, `reference_param`, `string_param`); the engine adds the
common `_id` and `_lastUpdated`, applies the grant's granular restrictions, orders by
`_sort` and pages with a signed keyset cursor (never OFFSET, so a deep page costs what
the first one does).

A type may be served from the rows of several models (`ServedType.more`: a
DocumentReference is a clinical note or a stored file). Each such part keeps its own
keyset position in the cursor and the page merges the parts' next rows, so paging stays
exact whatever the parts' field types.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cmp_to_key
from typing import IO, Any, Literal

from django.conf import settings
from django.core import signing
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from portal.fhir.api.auth import ApiGrant
from portal.fhir.api.registry import Apply, ResourceType, SearchError

MAX_VALUE_LENGTH = 1000
MAX_PARAMETERS = 60
MAX_VALUES = 100
PAGE_SALT = "portal.fhir.api.page"
# Parameters the engine reads itself, for every type.
CONTROL = frozenset({"_count", "_sort", "_include", "_page", "_format", "_total"})
COMMON = frozenset({"_id", "_lastUpdated"})
TOTALS = ("none", "estimate", "accurate")


def common_params(resource_type: ResourceType) -> frozenset[str]:
    """`_id` always; `_lastUpdated` for types whose rows record when they changed."""
    return COMMON if resource_type.last_updated_field else frozenset({"_id"})


@dataclass(frozen=True)
class Native:
    """A row's content in its own format (a Binary read as the file itself, not as FHIR JSON)."""

    content_type: str
    filename: str
    open: Callable[[], IO[bytes]]  # raises OSError or ValueError when the stored file is gone


@dataclass(frozen=True)
class ServedType(ResourceType):
    """A resource type with what the plain registry entry cannot say.

    `more`: further parts served as this same type from other models, each a complete
    `ResourceType` of the same name with the same search parameter and `_sort` names
    (its own id prefix, rows and fields). `searchable`: False for a type that is only
    read by id (Binary). `documentation`: what the CapabilityStatement says of the type.
    `native`: a row's content in its own format, for a Binary read that asks for it.
    `everything_rows`: the rows `Patient/$everything` lists when not all of `rows` (a
    directory such as Organization lists only what the patient's resources refer to).
    """

    more: tuple[ResourceType, ...] = ()
    searchable: bool = True
    documentation: str = ""
    native: Callable[[Any], Native] | None = None
    everything_rows: Callable[[ApiGrant], models.QuerySet[Any]] | None = None

    def __post_init__(self) -> None:
        for part in self.more:
            same = (
                part.name == self.name
                and set(part.search_params) == set(self.search_params)
                and set(part.sorts) == set(self.sorts)
                and part.id_prefix != self.id_prefix
            )
            if not same:
                raise ValueError(f"{part.name} part '{part.id_prefix}' does not match {self.name}")


def parts_of(resource_type: ResourceType) -> tuple[ResourceType, ...]:
    """The parts a type is served from: itself, then any further models (`ServedType.more`)."""
    return (resource_type, *getattr(resource_type, "more", ()))


def native_of(resource_type: ResourceType) -> Callable[[Any], Native] | None:
    found: Callable[[Any], Native] | None = getattr(resource_type, "native", None)
    return found


def everything_rows_of(resource_type: ResourceType) -> Callable[[ApiGrant], models.QuerySet[Any]]:
    found: Callable[[ApiGrant], models.QuerySet[Any]] | None = getattr(resource_type, "everything_rows", None)
    return found or resource_type.rows


def is_searchable(resource_type: ResourceType) -> bool:
    return bool(getattr(resource_type, "searchable", True))


def documentation_of(resource_type: ResourceType) -> str:
    return str(getattr(resource_type, "documentation", ""))


def part_for(resource_type: ResourceType, public_id: str) -> tuple[ResourceType, int] | None:
    """The part whose id prefix the public id carries, and the row pk it names."""
    for part in parts_of(resource_type):
        pk = parse_public_id(part, public_id)
        if pk is not None:
            return part, pk
    return None


_DATE = re.compile(
    r"^(?P<year>\d{4})(?:-(?P<month>\d{2})(?:-(?P<day>\d{2})"
    r"(?:T(?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.(?P<fraction>\d{1,9}))?)?"
    r"(?P<zone>Z|[+-]\d{2}:\d{2})?)?)?)?$"
)
PREFIXES = ("eq", "ne", "lt", "gt", "le", "ge", "sa", "eb", "ap")


# Values ------------------------------------------------------------------------------------


def split_values(text: str) -> list[str]:
    """One parameter occurrence's comma-separated values (`\\,` is a literal comma)."""
    values, current, escaped = [], [], False
    for char in text:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ",":
            values.append("".join(current))
            current = []
        else:
            current.append(char)
    values.append("".join(current))
    return values


def parse_public_id(resource_type: ResourceType, text: str) -> int | None:
    """The row pk a public id names ("observation-12" -> 12), or None when it names none."""
    head = resource_type.id_prefix.rstrip("-")
    text = text.strip()
    if head:
        if not text.startswith(head + "-"):
            return None
        text = text[len(head) + 1 :]
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        return None
    return int(text)


@dataclass(frozen=True)
class DateRange:
    """A FHIR date value: the instants from start (included) to end (excluded)."""

    start: dt.datetime
    end: dt.datetime


def parse_date(text: str) -> DateRange:
    """A partial date, date or instant; without a zone it is read in the current time zone."""
    match = _DATE.match(text.strip())
    if match is None:
        raise SearchError(f"'{text[:60]}' is not a FHIR date (YYYY, YYYY-MM, YYYY-MM-DD or an instant).")
    parts = {
        key: int(value) if value and key != "zone" else value for key, value in match.groupdict().items()
    }
    try:
        zone: dt.tzinfo = timezone.get_current_timezone()
        if parts["zone"]:
            zone = dt.UTC if parts["zone"] == "Z" else _offset(str(parts["zone"]))
        year, month, day = int(parts["year"]), int(parts["month"] or 1), int(parts["day"] or 1)
        if not 1 < year < 9999:
            raise ValueError
        # Naive first, so that adding a day or a month is calendar arithmetic in the zone.
        start = dt.datetime(  # noqa: DTZ001
            year, month, day, int(parts["hour"] or 0), int(parts["minute"] or 0), int(parts["second"] or 0)
        )
        if parts["second"] is not None:
            end = start + dt.timedelta(seconds=1)
        elif parts["minute"] is not None:
            end = start + dt.timedelta(minutes=1)
        elif parts["day"] is not None:
            end = start + dt.timedelta(days=1)
        elif parts["month"] is not None:
            end = start.replace(year=year + month // 12, month=month % 12 + 1)
        else:
            end = start.replace(year=year + 1)
        return DateRange(_aware(start, zone), _aware(end, zone))
    except (ValueError, OverflowError):
        raise SearchError(f"'{text[:60]}' is not a valid date.") from None


def _offset(text: str) -> dt.tzinfo:
    sign = -1 if text[0] == "-" else 1
    hours, minutes = int(text[1:3]), int(text[4:6])
    if hours > 14 or minutes > 59:
        raise ValueError
    return dt.timezone(sign * dt.timedelta(hours=hours, minutes=minutes))


def _aware(value: dt.datetime, zone: dt.tzinfo) -> dt.datetime:
    aware = timezone.make_aware(value, zone) if hasattr(zone, "key") else value.replace(tzinfo=zone)
    return aware.astimezone(dt.UTC)


def date_condition(field_name: str, value: str, is_date: bool = False) -> Q:
    """The rows whose `field_name` (a datetime, or with `is_date` a date) matches one prefixed value."""
    prefix = value[:2] if value[:2] in PREFIXES else "eq"
    found = parse_date(value[2:] if value[:2] in PREFIXES else value)
    start, end = found.start, found.end
    if prefix == "ap":
        margin = max(dt.timedelta(days=1), abs(timezone.now() - start) / 10)
        start, end = start - margin, end + margin
    low: Any = start
    high: Any = end
    if is_date:
        # A date field holds whole days: the days the range touches, in the current zone.
        low = timezone.localtime(start).date()
        last = timezone.localtime(end - dt.timedelta(microseconds=1)).date()
        high = last + dt.timedelta(days=1) if last < dt.date.max else last
    inside = Q(**{f"{field_name}__gte": low, f"{field_name}__lt": high})
    rules = {
        "eq": inside,
        "ne": ~inside,
        "lt": Q(**{f"{field_name}__lt": low}),
        "eb": Q(**{f"{field_name}__lt": low}),
        "gt": Q(**{f"{field_name}__gte": high}),
        "sa": Q(**{f"{field_name}__gte": high}),
        "le": Q(**{f"{field_name}__lt": high}),
        "ge": Q(**{f"{field_name}__gte": low}),
        "ap": inside,
    }
    return rules[prefix] & Q(**{f"{field_name}__isnull": False})


def any_of(values: Iterable[str], condition: Callable[[str], Q]) -> Q:
    rule = Q(pk__in=[])
    for value in values:
        rule |= condition(value)
    return rule


def _each(
    queryset: models.QuerySet[Any], groups: list[list[str]], condition: Callable[[str], Q]
) -> models.QuerySet[Any]:
    """AND across the parameter's occurrences, OR within one occurrence's comma list."""
    for values in groups:
        queryset = queryset.filter(any_of(values, condition))
    return queryset


def date_param(field_name: str, is_date: bool = False) -> Apply:
    def apply(queryset: models.QuerySet[Any], groups: list[list[str]]) -> models.QuerySet[Any]:
        return _each(queryset, groups, lambda value: date_condition(field_name, value, is_date))

    return apply


def token_param(
    field_name: str, system: str | Callable[[], str], translate: Callable[[str], str | None] | None = None
) -> Apply:
    """A token matched on `field_name` within one code system (`system|code`, `code`, `|code`, `system|`).

    `translate` maps a FHIR code to the stored value (None: no row can match).
    """

    def condition(value: str) -> Q:
        own = system() if callable(system) else system
        if "|" in value:
            given, _bar, code = value.partition("|")
            if given != own:
                return Q(pk__in=[])
            if not code:
                return Q(**{f"{field_name}__isnull": False})
        else:
            code = value
        stored = translate(code) if translate else code
        return Q(**{field_name: stored}) if stored is not None else Q(pk__in=[])

    def apply(queryset: models.QuerySet[Any], groups: list[list[str]]) -> models.QuerySet[Any]:
        return _each(queryset, groups, condition)

    return apply


def reference_param(field_name: str, resource_type: str, id_prefix: str) -> Apply:
    """A reference (`Patient/patient-3`, `patient-3`, or a full URL) matched on a foreign key."""

    def condition(value: str) -> Q:
        text = value.strip()
        if "/" in text:
            kind, _slash, text = text.rstrip("/").rpartition("/")
            if kind.rpartition("/")[2] != resource_type:
                return Q(pk__in=[])
        head = id_prefix.rstrip("-")
        digits = text[len(head) + 1 :] if head and text.startswith(head + "-") else ("" if head else text)
        if not digits.isascii() or not digits.isdigit() or len(digits) > 18:
            return Q(pk__in=[])
        return Q(**{field_name: int(digits)})

    def apply(queryset: models.QuerySet[Any], groups: list[list[str]]) -> models.QuerySet[Any]:
        return _each(queryset, groups, condition)

    return apply


def string_param(*field_names: str) -> Apply:
    """A string matched, as FHIR does by default, at the start of any of the fields, ignoring case."""

    def condition(value: str) -> Q:
        rule = Q(pk__in=[])
        for name in field_names:
            rule |= Q(**{f"{name}__istartswith": value.strip()})
        return rule

    def apply(queryset: models.QuerySet[Any], groups: list[list[str]]) -> models.QuerySet[Any]:
        return _each(queryset, groups, condition)

    return apply


# The request's parameters -------------------------------------------------------------------


@dataclass
class Query:
    """A search request read and checked: filters by parameter, control values, what was not understood."""

    filters: dict[str, list[list[str]]] = field(default_factory=dict)
    count: int = 0
    sort: list[tuple[str, bool]] = field(default_factory=list)  # (_sort name, descending)
    includes: list[str] = field(default_factory=list)
    page: str = ""
    total: str = "none"  # _total: none | estimate | accurate
    ignored: list[str] = field(default_factory=list)
    # The parameters to repeat in paging links (everything but _page), in request order.
    kept: list[tuple[str, str]] = field(default_factory=list)


def read_query(resource_type: ResourceType, pairs: list[tuple[str, str]], strict: bool) -> Query:
    """Check every parameter; SearchError for a bad value (and, when strict, an unknown parameter)."""
    if len(pairs) > MAX_PARAMETERS:
        raise SearchError("Too many search parameters.")
    query = Query(count=settings.PORTAL_FHIR_PAGE_SIZE)
    for raw_name, value in pairs:
        if len(value) > MAX_VALUE_LENGTH or len(raw_name) > 100:
            raise SearchError("A search parameter is too long.")
        name, _colon, modifier = raw_name.partition(":")
        if name == "_page":
            query.page = value
            continue
        query.kept.append((raw_name, value))
        if name in CONTROL:
            _control(resource_type, query, name, value, strict)
        elif name in resource_type.search_params or name in common_params(resource_type):
            _modifier(resource_type, name, modifier)
            values = split_values(value)
            if len(values) > MAX_VALUES or not any(item.strip() for item in values):
                raise SearchError(f"The parameter '{name}' needs a value.")
            query.filters.setdefault(name, []).append(values)
        elif strict:
            raise SearchError(f"The parameter '{raw_name[:60]}' is not supported.")
        else:
            query.ignored.append(raw_name[:100])
    return query


def _modifier(resource_type: ResourceType, name: str, modifier: str) -> None:
    param = resource_type.search_params.get(name)
    if not modifier or (param is not None and param.type == "reference" and modifier[:1].isupper()):
        return
    raise SearchError(f"The modifier ':{modifier[:40]}' is not supported on '{name}'.")


def _control(resource_type: ResourceType, query: Query, name: str, value: str, strict: bool) -> None:
    if name == "_count":
        if not value.isascii() or not value.isdigit():
            raise SearchError("_count must be a whole number, 0 or more.")
        query.count = min(int(value[:9]), settings.PORTAL_FHIR_MAX_PAGE_SIZE)
    elif name == "_sort":
        query.sort = []
        for item in value.split(","):
            descending = item.startswith("-")
            key = item.removeprefix("-")
            if key not in resource_type.sorts:
                raise SearchError(f"Cannot sort {resource_type.name} by '{key[:40]}'.")
            query.sort.append((key, descending))
    elif name == "_total":
        if value not in TOTALS:
            raise SearchError(f"_total must be one of: {', '.join(TOTALS)}.")
        query.total = value
    elif name == "_include":
        if value in resource_type.includes:
            if value not in query.includes:
                query.includes.append(value)
        elif strict:
            raise SearchError(f"_include '{value[:80]}' is not supported.")
        else:
            query.ignored.append(f"_include={value[:80]}")


def apply_filters(
    resource_type: ResourceType, queryset: models.QuerySet[Any], filters: dict[str, list[list[str]]]
) -> models.QuerySet[Any]:
    for name, groups in filters.items():
        param = resource_type.search_params.get(name)
        if param is not None:
            queryset = param.apply(queryset, groups)
        elif name == "_id":
            queryset = _each(queryset, groups, lambda value: _id_condition(resource_type, value))
        elif name == "_lastUpdated":
            queryset = date_param(resource_type.last_updated_field)(queryset, groups)
    return queryset


def _id_condition(resource_type: ResourceType, value: str) -> Q:
    pk = parse_public_id(resource_type, value)
    return Q(pk=pk) if pk is not None else Q(pk__in=[])


def restricted(
    resource_type: ResourceType, queryset: models.QuerySet[Any], grant: ApiGrant, interaction: str
) -> models.QuerySet[Any]:
    """The rows the grant's granular scopes (`patient/Observation.rs?category=...`) leave.

    A restriction naming a parameter this type does not support, or a value it cannot
    read, matches nothing: a scope the server does not understand never widens access.
    """
    restrictions = grant.scopes.restrictions(resource_type.name, interaction)
    if restrictions is None:
        return queryset
    rule = Q(pk__in=[])
    for restriction in restrictions:
        part = queryset
        try:
            for key, value in restriction:
                param = resource_type.search_params.get(key)
                if param is None and key not in common_params(resource_type):
                    raise SearchError(key)
                part = apply_filters(resource_type, part, {key: [split_values(value)]})
        except SearchError:
            continue
        rule |= Q(pk__in=part.values("pk"))
    return queryset.filter(rule)


# Ordering and keyset paging -----------------------------------------------------------------


def ordering(resource_type: ResourceType, sort: list[tuple[str, bool]]) -> list[tuple[str, bool]]:
    """(field, descending) pairs, ending with the pk so that the order is total."""
    fields: list[tuple[str, bool]] = []
    if sort:
        for key, descending in sort:
            for item in resource_type.sorts[key]:
                fields.append((item.removeprefix("-"), item.startswith("-") != descending))
    else:
        fields = [(item.removeprefix("-"), item.startswith("-")) for item in resource_type.default_order]
    names = [name for name, _desc in fields]
    if "id" not in names and "pk" not in names:
        fields.append(("id", fields[0][1] if fields else True))
    return list(dict((name, desc) for name, desc in fields).items())


def ordered(
    queryset: models.QuerySet[Any], fields: list[tuple[str, bool]], reverse: bool = False
) -> models.QuerySet[Any]:
    keys = {f"_k{index}": F(name) for index, (name, _desc) in enumerate(fields)}
    terms = [_term(queryset.model, name, desc != reverse, reverse) for name, desc in fields]
    return queryset.annotate(**keys).order_by(*terms)


def _term(model: type[models.Model], name: str, descending: bool, reverse: bool) -> Any:
    """One field's place in the order: nulls last, and reversed, nulls first (the exact mirror).

    A column that cannot be null gets a plain ASC or DESC: the same order, and one an index
    gives without sorting (PostgreSQL's DESC index keeps nulls first, so DESC NULLS LAST
    sorted all of the heavy patient's 4,384 lab values to return 51).
    """
    try:
        nullable = bool(getattr(model._meta.get_field(name), "null", True))
    except FieldDoesNotExist:  # "pk", an annotation: keep the nulls rule
        nullable = True
    if not nullable:
        return F(name).desc() if descending else F(name).asc()
    if reverse:
        return F(name).desc(nulls_first=True) if descending else F(name).asc(nulls_first=True)
    return F(name).desc(nulls_last=True) if descending else F(name).asc(nulls_last=True)


def after(fields: list[tuple[str, bool]], key: list[Any], backwards: bool = False) -> Q:
    """Rows strictly after `key` in the order (nulls last), or with `backwards` strictly before it."""
    rule = Q(pk__in=[])
    equal = Q()
    for (name, desc), value in zip(fields, key, strict=True):
        rule |= equal & _beyond(name, desc, value, backwards)
        equal &= Q(**{f"{name}__isnull": True}) if value is None else Q(**{name: value})
    return rule


def _beyond(name: str, desc: bool, value: Any, backwards: bool) -> Q:
    if not backwards:
        if value is None:
            return Q(pk__in=[])  # nulls come last: nothing is after a null but other nulls
        return Q(**{f"{name}__{'lt' if desc else 'gt'}": value}) | Q(**{f"{name}__isnull": True})
    if value is None:
        return Q(**{f"{name}__isnull": False})
    return Q(**{f"{name}__{'gt' if desc else 'lt'}": value})


def row_key(row: Any, fields: list[tuple[str, bool]]) -> list[Any]:
    return [getattr(row, f"_k{index}") for index in range(len(fields))]


def encode_key(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return ["t", value.isoformat()]
    if isinstance(value, dt.date):
        return ["d", value.isoformat()]
    if isinstance(value, Decimal):
        return ["n", str(value)]
    if isinstance(value, bool):
        return ["b", "1" if value else ""]
    if isinstance(value, int):
        return ["i", str(value)]
    return ["s", str(value)]


def decode_key(item: Any) -> Any:
    if item is None:
        return None
    tag, text = item
    decoders: dict[str, Callable[[str], Any]] = {
        "t": dt.datetime.fromisoformat,
        "d": dt.date.fromisoformat,
        "n": Decimal,
        "b": bool,
        "i": int,
        "s": str,
    }
    return decoders[tag](text)


# A part's position in a cursor: None for "all its rows" in the page's direction, EMPTY for
# none, or (key, inclusive) for the rows beyond (or, inclusive, at and beyond) a row's key.
EMPTY: Literal["x"] = "x"
Position = tuple[list[Any], bool] | Literal["x"] | None
Fields = list[tuple[str, bool]]


def _flip(position: Position) -> Position:
    """The rows of the part on the other side of the same boundary."""
    if isinstance(position, tuple):
        key, inclusive = position
        return (key, not inclusive)
    return EMPTY if position is None else None


def make_cursor(scope: str, direction: str, positions: list[Position]) -> str:
    encoded = [
        position
        if position is None or position == EMPTY
        else [[encode_key(v) for v in position[0]], position[1]]
        for position in positions
    ]
    return signing.dumps({"s": scope, "d": direction, "k": encoded}, salt=PAGE_SALT, compress=True)


def read_cursor(token: str, scope: str, sizes: Sequence[int]) -> tuple[str, list[Position]]:
    """(direction, a position per part) from a `_page` token made for this same search; SearchError otherwise.

    `sizes` is the number of ordering fields of each part.
    """
    try:
        data = signing.loads(token, salt=PAGE_SALT)
        if data["s"] != scope or data["d"] not in ("n", "p") or len(data["k"]) != len(sizes):
            raise ValueError
        positions: list[Position] = []
        for item, size in zip(data["k"], sizes, strict=True):
            if item is None or item == EMPTY:
                positions.append(item)
                continue
            key, inclusive = item
            if len(key) != size or not isinstance(inclusive, bool):
                raise ValueError
            positions.append(([decode_key(value) for value in key], inclusive))
        return data["d"], positions
    except (signing.BadSignature, ValueError, KeyError, TypeError, IndexError, ArithmeticError):
        raise SearchError("The _page token is not valid for this search.") from None


@dataclass
class Page:
    rows: list[tuple[int, Any]]  # (index of the part, row), in the search's order
    next: list[Position] | None
    previous: list[Position] | None


def _same(fields: Fields, key: list[Any]) -> Q:
    rule = Q()
    for (name, _desc), value in zip(fields, key, strict=True):
        rule &= Q(**{f"{name}__isnull": True}) if value is None else Q(**{name: value})
    return rule


def _comparable(value: Any) -> Any:
    # A date and an instant of two parts compare as the date's local midnight.
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return timezone.make_aware(dt.datetime.combine(value, dt.time.min))
    return value


def _compare_values(first: Any, second: Any, desc: bool) -> int:
    first, second = _comparable(first), _comparable(second)
    if first == second:
        return 0
    if first is None or second is None:
        return 1 if first is None else -1  # nulls last, either way
    result = -1 if first < second else 1
    return -result if desc else result


def _merge_order(fields: Fields) -> Callable[[tuple[int, list[Any]], tuple[int, list[Any]]], int]:
    """The order of rows of several parts: their fields, then the part, then the id (the last field)."""

    def compare(first: tuple[int, list[Any]], second: tuple[int, list[Any]]) -> int:
        for (_name, desc), a, b in zip(fields[:-1], first[1][:-1], second[1][:-1], strict=True):
            found = _compare_values(a, b, desc)
            if found:
                return found
        if first[0] != second[0]:
            return -1 if first[0] < second[0] else 1
        return _compare_values(first[1][-1], second[1][-1], fields[-1][1])

    return compare


def page_of(
    parts: list[tuple[models.QuerySet[Any], Fields]],
    count: int,
    cursor: tuple[str, list[Position]] | None,
) -> Page:
    """One page: `count` rows from the parts' querysets after (or before) the cursor.

    One query per part, each for `count + 1` rows so that we know whether more follow.
    """
    if count == 0:
        return Page([], None, None)
    direction, positions = cursor if cursor else ("n", [None] * len(parts))
    backwards = direction == "p"
    found: list[tuple[int, list[Any], Any]] = []
    for index, ((queryset, fields), position) in enumerate(zip(parts, positions, strict=True)):
        if position == EMPTY:
            continue
        rows_query = ordered(queryset, fields, reverse=backwards)
        if isinstance(position, tuple):
            key, inclusive = position
            rule = after(fields, key, backwards=backwards)
            rows_query = rows_query.filter(rule | _same(fields, key) if inclusive else rule)
        found += [(index, row_key(row, fields), row) for row in rows_query[: count + 1]]
    if len(parts) > 1:
        order = cmp_to_key(_merge_order(parts[0][1]))
        found.sort(key=lambda item: order((item[0], item[1])), reverse=backwards)
    more = len(found) > count
    taken = found[:count]
    if backwards:
        taken.reverse()
    if not taken:
        return Page([], None, None)
    first: dict[int, list[Any]] = {}
    last: dict[int, list[Any]] = {}
    for index, key, _row in taken:
        first.setdefault(index, key)
        last[index] = key
    # A part with no row on this page keeps its boundary: its rows lie on one side of the page.
    after_page = [
        (last[i], False) if i in last else (_flip(positions[i]) if backwards else positions[i])
        for i in range(len(parts))
    ]
    before_page = [
        (first[i], False) if i in first else (positions[i] if backwards else _flip(positions[i]))
        for i in range(len(parts))
    ]
    has_next = more or backwards
    has_previous = (more if backwards else cursor is not None) and any(p != EMPTY for p in before_page)
    return Page(
        [(index, row) for index, _key, row in taken],
        after_page if has_next else None,
        before_page if has_previous else None,
    )
