"""A Core SELECT compiled once per dialect and run on a raw DBAPI cursor (the hot read paths).

A consent decision or a FHIR read by id is one indexed lookup; SQLAlchemy's per-statement
machinery (connection wrapper, transaction events, result objects) costs several times the
query itself there, and these are the services' hottest paths. The SQL, its parameters and
the conversion of its results still come from the Core table definitions, so both dialects
stay right.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterator

import sqlalchemy as sa
from sqlalchemy.engine import Dialect, Engine


class PreparedSelect:
    """STATEMENT compiled for DIALECT: ``rows(cursor, **params)`` returns converted tuples."""

    def __init__(self, statement: sa.Select, dialect: Dialect):
        compiled = statement.compile(dialect=dialect)
        if compiled.post_compile_params or compiled.literal_execute_params:
            raise ValueError("expanding or literal-execute parameters need SQLAlchemy's execution")
        self.sql = compiled.string
        self.defaults = dict(compiled.params)  # the literals of the statement, e.g. status = 'active'
        self.order = tuple(compiled.positiontup) if compiled.positional else None
        self.binds: dict[str, Callable[[Any], Any]] = {}
        for name, bind in compiled.binds.items():
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if process is not None:
                self.binds[name] = process
        self.results: tuple[Callable[[Any], Any] | None, ...] = tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in statement.selected_columns)

    def parameters(self, params: dict) -> tuple | dict:
        """Return PARAMS merged with the statement's literals, processed and in the driver's style."""
        values = self.defaults | params
        for name, process in self.binds.items():
            values[name] = process(values[name])
        return tuple(values[name] for name in self.order) if self.order is not None else values

    def rows(self, cursor, **params) -> list[tuple]:
        """Execute on CURSOR with PARAMS; return every row with SQLAlchemy's type conversions."""
        cursor.execute(self.sql, self.parameters(params))
        results = self.results
        if not any(results):
            return [tuple(row) for row in cursor.fetchall()]
        return [tuple(v if process is None or v is None else process(v)
                      for process, v in zip(results, row)) for row in cursor.fetchall()]


@contextmanager
def raw_cursor(engine: Engine) -> Iterator[Any]:
    """Yield a cursor on a pooled DBAPI connection, outside any write transaction.

    Each statement reads what is committed when it runs (SQLite in autocommit mode, a
    PostgreSQL read-committed transaction the pool rolls back on return).
    """
    conn = engine.raw_connection()
    try:
        cursor = conn.cursor()
        try:
            yield cursor
        finally:
            cursor.close()
    finally:
        conn.close()  # back to the pool, which rolls back whatever is open
