"""Statements sent straight to the database driver, for writes made many times a second
(a gateway call's nonce, ledger entry and log row). Each Core statement is compiled by
SQLAlchemy once per dialect, and each value goes through its column type's own bind
processing, so the rows read back exactly as if the ORM had written them; what is skipped
is the per-execution work (building, cache lookups, result objects), which cost more than
the writes themselves (docs/performance.md)."""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Connection, Insert, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

Row = Mapping[str, Any]


@dataclass(frozen=True)
class _Compiled:  # not slotted: its cached properties live in its __dict__
    sql: str
    positional: bool
    # In the statement's order: name, bind processing, and where the value comes from
    # when the row does not give it: a literal the statement holds (in a WHERE clause) or
    # the column's Python-side default.
    binds: tuple[tuple[str, Callable[[Any], Any] | None, Callable[[], Any] | None], ...]

    @functools.cached_property
    def _names(self) -> tuple[str, ...]:
        return tuple(name for name, _, _ in self.binds)

    @functools.cached_property
    def _processed(self) -> tuple[tuple[int, Callable[[Any], Any]], ...]:
        return tuple((i, process) for i, (_, process, _) in enumerate(self.binds) if process)

    @functools.cached_property
    def _from_row(self) -> Callable[[Row], list[Any]] | None:
        """When the row gives every value: one C call takes them all (a batch's rows
        are many)."""
        if any(otherwise for _, _, otherwise in self.binds) or len(self.binds) < 2:
            return None
        take = operator.itemgetter(*self._names)
        return lambda row: list(take(row))

    def params(self, row: Row) -> tuple[Any, ...] | dict[str, Any]:
        from_row = self._from_row
        if from_row is not None:
            values = from_row(row)
        else:
            values = [row[n] if o is None else o() for n, _, o in self.binds]
        for i, process in self._processed:
            values[i] = process(values[i])
        if self.positional:
            return tuple(values)
        return dict(zip(self._names, values, strict=True))


class Writes:
    """Statements in the caller's transaction, on its connection's driver cursor."""

    def __init__(self, dialect: Dialect, driver: Any) -> None:
        self.dialect = dialect
        self.cursor = driver.cursor()

    @classmethod
    def on(cls, conn: Connection) -> Writes:
        """In the connection's transaction."""
        return cls(conn.dialect, conn.connection.driver_connection)

    @classmethod
    def of(cls, s: Session) -> Writes:
        """In the session's transaction."""
        return cls.on(s.connection())

    def execute(self, statement: ClauseElement, row: Row) -> Any:
        """One execution; the driver's cursor, to read a row count or returned rows."""
        compiled = _compile(statement, self.dialect, tuple(row))
        self.cursor.execute(compiled.sql, compiled.params(row))
        return self.cursor

    def executemany(self, statement: ClauseElement, rows: Sequence[Row]) -> None:
        """The same statement for many rows (all with the same keys)."""
        if not rows:
            return
        compiled = _compile(statement, self.dialect, tuple(rows[0]))
        self.cursor.executemany(compiled.sql, [compiled.params(row) for row in rows])


@functools.lru_cache(maxsize=256)
def _compile(statement: ClauseElement, dialect: Dialect, keys: tuple[str, ...]) -> _Compiled:
    compiled = cast(SQLCompiler, statement.compile(dialect=dialect, column_keys=list(keys)))
    names = list(compiled.positiontup or []) if compiled.positional else list(compiled.binds)
    defaults = {
        c.key: c.default
        for c in [*compiled.insert_prefetch, *compiled.update_prefetch]
        if c.key not in keys
    }
    binds = []
    for name in names:
        bind = compiled.binds[name]
        otherwise: Callable[[], Any] | None = None
        if name in defaults:
            otherwise = _default(defaults[name])
        elif not bind.required and name not in keys:
            otherwise = functools.partial(_same, bind.effective_value)
        # The dialect's own type (a UTC datetime becomes SQLite's text form, as the ORM
        # writes it), not the generic one.
        process = bind.type.dialect_impl(dialect).bind_processor(dialect)
        binds.append((name, process, otherwise))
    return _Compiled(str(compiled), compiled.positional, tuple(binds))


def _same(value: Any) -> Any:
    return value


def _default(default: Any) -> Callable[[], Any]:
    """A column's Python-side default (ColumnDefault: a value, or a function SQLAlchemy
    has wrapped to take an execution context, which ours do not use)."""
    if default is None:
        return functools.partial(_same, None)
    if default.is_callable:
        return functools.partial(default.arg, None)
    return functools.partial(_same, default.arg)


def insert_new(w: Writes, table: Any, rows: list[dict[str, Any]]) -> list[bool]:
    """INSERT that skips rows whose key exists: for each row, whether it went in (of rows
    with one key in the list, only the first)."""
    statement = _skipping_insert(w.dialect.name, table.__table__)
    # One row per execution: its row count then says whether it went in.
    return [w.execute(statement, row).rowcount == 1 for row in rows]


@functools.cache
def _skipping_insert(dialect: str, table: Table) -> Insert:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(table).on_conflict_do_nothing()


def insert_ignoring(s: Session, table: Any, values: dict[str, Any]) -> bool:
    """INSERT that does nothing when the key exists; True when the row was added."""
    return insert_new(Writes.of(s), table, [values])[0]
