"""Leaner bulk inserts for the generators' biggest tables.

`QuerySet.bulk_create` prepares every value of every row through its field: about 150 µs
a row for a twenty-column table, which would add ten seconds to `portal demo` for its
medical records alone. Generated rows repeat most of their values (a report's results
share its dates, units and ranges), so `insert_rows` prepares each distinct value once
per column, with the same `pre_save` and `get_db_prep_save` calls `bulk_create` makes.
Rows nothing points to yet go to the driver's `executemany`; parents (`keys=True`) go in
multi-row `INSERT ... RETURNING` statements, as `bulk_create` sends them, and get their
primary keys back the same way.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import connection, models

M = TypeVar("M", bound=models.Model)
Field = models.Field[Any, Any]


def insert_rows(model: type[models.Model], objs: Sequence[models.Model], *, keys: bool = False) -> None:
    """Insert unsaved `objs` of `model`; with `keys`, set their primary keys as bulk_create does."""
    if not objs:
        return
    if keys and not connection.features.can_return_rows_from_bulk_insert:
        model._default_manager.bulk_create(objs)
        return
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    rows = _prepared(objs, fields)
    quote = connection.ops.quote_name
    # Names from the model's own metadata, quoted; every value goes as a parameter.
    head = f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(field.column) for field in fields)})"
    one_row = f"({', '.join(['%s'] * len(fields))})"
    with connection.cursor() as wrapper:
        # The driver's cursor, below Django's query log: with DEBUG on (as `portal demo`
        # runs), logging would quote every parameter of every statement again.
        cursor = wrapper.cursor
        if not keys:
            cursor.executemany(f"{head} VALUES {one_row}", rows)
            return
        size = connection.ops.bulk_batch_size(fields, objs)
        pk = model._meta.pk
        if pk is None:
            raise TypeError(f"{model.__name__} has no primary key to return")
        for start in range(0, len(rows), size):
            batch = rows[start : start + size]
            values = ", ".join([one_row] * len(batch))
            cursor.execute(
                f"{head} VALUES {values} RETURNING {quote(pk.column)}",
                [value for row in batch for value in row],
            )
            for obj, (key,) in zip(objs[start : start + size], cursor.fetchall(), strict=True):
                obj.pk = key
                obj._state.adding = False
                obj._state.db = connection.alias


def _prepared(objs: Sequence[models.Model], fields: list[Field]) -> list[list[Any]]:
    read = operator.attrgetter(*(field.attname for field in fields))
    columns = [_Column(field, objs[0]) for field in fields]
    parents = [field for field in fields if field.is_relation]
    rows = []
    for obj in objs:
        _point_at_saved_parents(obj, parents)
        rows.append([column.prepare(value) for column, value in zip(columns, read(obj), strict=True)])
    return rows


def _point_at_saved_parents(obj: models.Model, parents: list[Field]) -> None:
    """Copy in the keys of related objects saved since they were assigned, as bulk_create does."""
    for field in parents:
        parent = field.get_cached_value(obj, None)  # type: ignore[attr-defined]
        if parent is None:
            continue
        if parent.pk is None:
            raise ValueError(f"insert_rows: {field.name} of {obj!r} is not saved yet")
        setattr(obj, field.attname, parent.pk)


class _Column:
    """One column's values, each distinct value prepared for the database only once."""

    def __init__(self, field: Field, first: models.Model) -> None:
        self.field = field
        self.cache: dict[Any, Any] = {}
        # auto_now (and auto_now_add, unless `given_timestamps` switched it off) stamps one
        # moment on the whole batch, not a new one per row.
        self.stamped = getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)
        self.constant = (
            field.get_db_prep_save(field.pre_save(first, add=True), connection) if self.stamped else None
        )

    def prepare(self, value: Any) -> Any:
        if self.stamped:
            return self.constant
        try:
            return self.cache[value]
        except KeyError:
            prepared = self.cache[value] = self.field.get_db_prep_save(value, connection)
            return prepared
        except TypeError:  # unhashable, such as JSON
            return self.field.get_db_prep_save(value, connection)


def new(model: type[M], **values: Any) -> M:
    """`model(**values)`, several times faster: the row's values in field order, positionally.

    Keyword construction checks every field against the keywords one by one, which cost
    more than everything else the generator does. Pass columns by attribute name
    (`patient_id`) or a related object by field name (`report`); other fields get their
    defaults.
    """
    spec = _spec(model)
    related = [(name, values.pop(name)) for name in spec.relations if name in values]
    merged = {**spec.defaults, **values}
    for attname, field in spec.callables:
        if attname not in values:
            merged[attname] = field.get_default()
    obj = model(*[merged[attname] for attname in spec.attnames])
    for name, value in related:
        setattr(obj, name, value)
    return obj


@dataclass(frozen=True)
class _Spec:
    attnames: list[str]
    defaults: dict[str, Any]  # fixed defaults (and None for relations given as objects)
    callables: list[tuple[str, Field]]  # defaults computed per row, such as `timezone.now`
    relations: list[str]


_SPECS: dict[type[models.Model], _Spec] = {}


def _spec(model: type[models.Model]) -> _Spec:
    spec = _SPECS.get(model)
    if spec is None:
        fields = model._meta.concrete_fields
        callables = [(field.attname, field) for field in fields if _computed_default(field)]
        spec = _SPECS[model] = _Spec(
            [field.attname for field in fields],
            {field.attname: None if _computed_default(field) else field.get_default() for field in fields},
            callables,
            [field.name for field in fields if field.is_relation],
        )
    return spec


def _computed_default(field: Field) -> bool:
    """A default computed per row, such as `timezone.now` (not a field without any default)."""
    return field.has_default() and callable(field.default)
