"""The database ingest ledger (`ingest.ledger: database`) on SQLite finds the messages of a
commit by key, never by scanning its tables: `ingest_messages` holds a row for every message
ever recorded, and each ingest commit asks about a thousand of them twice. (A row-value
`(gateway, epoch, seq) IN (...)` list, which SQLAlchemy renders for `tuple_().in_()`, is a
scan of the whole table in SQLite.)"""
from __future__ import annotations

import re

from sqlalchemy import event

from backend.adapters.db.engine import make_engine, migrate
from backend.adapters.db.ledger_repo import SqlIngestLedger
from backend.ports.ingest import AcceptedMessage
from edge import protocol

LEDGER_TABLES = ("ingest_messages", "ingest_epochs", "ingest_refused", "ingest_dropped")
_SCAN = re.compile(r"^SCAN (%s)\b" % "|".join(LEDGER_TABLES))


def _message(gateway: str, epoch: int, seq: int) -> AcceptedMessage:
    reading = protocol.Reading(f"{gateway}-scale", "weight", 1_000, {"weight_kg": 1.0})
    return AcceptedMessage(protocol.Envelope(gateway, epoch, seq, 1_000, (reading,)), 2_000, 0)


def test_on_sqlite_the_ledger_finds_a_commits_messages_by_key(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'registry.sqlite'}")
    migrate(engine)
    ledger = SqlIngestLedger(engine, clock=lambda: 1_800_000_000.0)
    statements: list[tuple[str, object]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _seen(conn, cursor, statement, parameters, context, executemany) -> None:
        if statement.lstrip().upper().startswith("SELECT") and not executemany:
            statements.append((statement, parameters))

    try:
        first = [_message(f"gw-{g}", epoch, seq) for g in range(5) for epoch in (1, 2) for seq in range(1, 40)]
        assert ledger.record(first, []).new_keys == {m.key for m in first}
        again = first[::7] + [_message("gw-0", 1, 41), _message("gw-9", 3, 1)]  # resends, a gap, a new gateway
        assert ledger.already_stored([m.key for m in again]) == {m.key for m in first[::7]}
        recorded = ledger.record(again, [], refused=[(("gw-1", 1, 50), "unknown_sensor")],
                                 dropped=[("gw-2", 2, 60)])
        assert recorded.new_keys == {("gw-0", 1, 41), ("gw-9", 3, 1)}
        assert recorded.acks[("gw-0", 1)] == 39 and recorded.acks[("gw-9", 3)] == 1
        assert statements, "the ledger read nothing: the test no longer looks at its lookups"
        with engine.connect() as db:
            for statement, parameters in statements:
                plan = db.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
                scans = [row[3] for row in plan if _SCAN.match(row[3])]
                assert not scans, f"{statement} with {parameters}: {scans}"
    finally:
        engine.dispose()
