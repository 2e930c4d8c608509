"""Set-wise writes: many rows of a table in one statement, however many rows there are.

Inserts go through SQLAlchemy's executemany (PostgreSQL folds them into multi-row
VALUES), or through COPY when there are many rows for PostgreSQL. An executemany of
UPDATEs would cost one round trip per row on psycopg2, so on PostgreSQL the rows travel
as one array per column and are joined back with `unnest`; SQLite runs in process, where
executemany costs no round trips.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from projections import pg_copy

# Below this many rows, one INSERT costs less than COPY's extra round trip.
COPY_AT_LEAST = 50

Key = Any  # the primary key's value, or a tuple of them for a composite key
Row = dict[str, Any]


@functools.cache
def key_columns(table: sa.Table) -> tuple[str, ...]:
    return tuple(column.name for column in table.primary_key.columns)


def key_of(table: sa.Table, row: Mapping[str, Any]) -> Key:
    names = key_columns(table)
    return row[names[0]] if len(names) == 1 else tuple(row[name] for name in names)


def insert(session: Session, table: sa.Table, rows: Iterable[Row]) -> None:
    """Inserts the rows in the order given (rows naming other columns go in their own
    statement). Many rows on PostgreSQL go by COPY, several times faster than INSERT."""
    by_columns: dict[tuple[str, ...], list[Row]] = {}
    for row in rows:
        by_columns.setdefault(tuple(row), []).append(row)
    for columns, same in by_columns.items():
        if len(same) >= COPY_AT_LEAST and session.get_bind().dialect.name == "postgresql":
            pg_copy.copy_rows(session, table, columns, same)
        else:
            session.execute(_insert_into(table), same)


def insert_missing(session: Session, table: sa.Table, rows: Sequence[Row]) -> None:
    """Inserts the rows whose key is not there yet."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    session.execute(module.insert(table).on_conflict_do_nothing(), list(rows))


def delete(session: Session, table: sa.Table, keys: Iterable[Key]) -> None:
    keys = list(keys)
    if not keys:
        return
    names = key_columns(table)
    if len(names) == 1:
        where = table.c[names[0]].in_(keys)
    else:
        where = sa.tuple_(*(table.c[name] for name in names)).in_(keys)
    session.execute(table.delete().where(where))


def update(session: Session, table: sa.Table, changes: Mapping[Key, Row]) -> None:
    """Sets, in the row of each key, the columns it is given. Rows changing the same
    columns share a statement."""
    by_columns: dict[tuple[str, ...], list[tuple[Key, Row]]] = {}
    for key, values in changes.items():
        if values:
            by_columns.setdefault(tuple(sorted(values)), []).append((key, values))
    keys = key_columns(table)
    for columns, rows in by_columns.items():
        if session.get_bind().dialect.name == "postgresql":
            _update_from_arrays(session, table, columns, rows)
        else:
            session.execute(_update_by_key(table, columns), [
                {**_key_params(keys, key), **{f"new_{c}": values[c] for c in columns}}
                for key, values in rows
            ])


def _key_params(names: tuple[str, ...], key: Key) -> Row:
    values = (key,) if len(names) == 1 else key
    return {f"key_{name}": value for name, value in zip(names, values, strict=True)}


@functools.cache
def _insert_into(table: sa.Table) -> sa.Insert:
    return table.insert()


@functools.cache
def _update_by_key(table: sa.Table, columns: tuple[str, ...]) -> sa.Update:
    return (
        table.update()
        .where(*(table.c[name] == sa.bindparam(f"key_{name}") for name in key_columns(table)))
        .values({name: sa.bindparam(f"new_{name}") for name in columns})
    )


def _update_from_arrays(
    session: Session, table: sa.Table, columns: tuple[str, ...], rows: list[tuple[Key, Row]]
) -> None:
    dialect = session.get_bind().dialect
    keys = key_columns(table)
    params: dict[str, list[Any]] = {}
    for n in range(len(keys)):
        params[f"k{n}"] = [key if len(keys) == 1 else key[n] for key, _ in rows]
    for n, name in enumerate(columns):
        process = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        values = [values[name] for _, values in rows]
        params[f"c{n}"] = [process(v) for v in values] if process else values
    session.execute(_unnest_update(table, columns, dialect), params)


@functools.lru_cache(maxsize=256)
def _unnest_update(
    table: sa.Table, columns: tuple[str, ...], dialect: sa.Dialect
) -> sa.TextClause:
    keys = key_columns(table)

    def array_of(name: str, param: str) -> str:
        column_type = table.c[name].type.compile(dialect=dialect)
        return f"CAST(:{param} AS {column_type}[])"

    arrays = ", ".join([*(array_of(name, f"k{n}") for n, name in enumerate(keys)),
                        *(array_of(name, f"c{n}") for n, name in enumerate(columns))])
    names = ", ".join([*(f"k{n}" for n in range(len(keys))),
                       *(f"c{n}" for n in range(len(columns)))])
    settings = ", ".join(f'"{name}" = v.c{n}' for n, name in enumerate(columns))
    matches = " AND ".join(f'"{table.name}"."{name}" = v.k{n}' for n, name in enumerate(keys))
    return sa.text(
        f'UPDATE "{table.name}" SET {settings} FROM unnest({arrays}) AS v({names}) '
        f"WHERE {matches}"
    )
