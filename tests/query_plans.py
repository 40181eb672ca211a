"""For tests that hold a store to its promise of finding rows by key: the SELECTs an engine ran,
and SQLite's query plan for each (a `SCAN` of a table that grows is the failure)."""
from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, event


@contextmanager
def selects_run(engine: Engine) -> Iterator[list[tuple[str, object]]]:
    """The (statement, parameters) of every single-row-set SELECT run on `engine` inside."""
    statements: list[tuple[str, object]] = []

    def seen(conn, cursor, statement, parameters, context, executemany) -> None:
        if statement.lstrip().upper().startswith("SELECT") and not executemany:
            statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", seen)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", seen)


def scans_of(tables: tuple[str, ...]) -> re.Pattern[str]:
    """Matches a plan line that scans one of `tables`."""
    return re.compile(r"^SCAN (%s)\b" % "|".join(tables))


def assert_no_scans(engine: Engine, statements: list[tuple[str, object]], scan: re.Pattern[str]) -> None:
    assert statements, "nothing was read: the test no longer looks at the lookups"
    with engine.connect() as db:
        for statement, parameters in statements:
            plan = db.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
            scans = [row[3] for row in plan if scan.match(row[3])]
            assert not scans, f"{statement} with {parameters}: {scans}"
