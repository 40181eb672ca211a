"""The ingest ledgers on SQLite (the file ledger, and `ingest.ledger: database`) find the
messages and epochs of a commit by key, never by scanning their tables: their messages
tables hold a row for every message ever recorded, and each ingest commit asks about a
thousand of them twice. The readings store's message keys likewise. (A row-value
`(gateway, epoch, seq) IN (...)` list, which SQLAlchemy renders for `tuple_().in_()`, is a
scan of the whole table in SQLite.)"""
from __future__ import annotations

from query_plans import assert_no_scans, scans_of, selects_run

from backend.adapters.db.engine import make_engine, migrate
from backend.adapters.db.ledger_repo import SqlIngestLedger
from backend.adapters.sqlite_ledger import SqliteIngestLedger
from backend.adapters.sqlite_readings import SqliteReadingStore
from backend.ports.ingest import AcceptedMessage
from edge import protocol

LEDGER_TABLES = ("ingest_messages", "ingest_epochs", "ingest_refused", "ingest_dropped",
                 "messages", "epochs", "refused", "dropped",  # the database ledger's, the file's
                 "stored_messages")  # the readings store's keys
_SCAN = scans_of(LEDGER_TABLES)


def _message(gateway: str, epoch: int, seq: int) -> AcceptedMessage:
    reading = protocol.Reading(f"{gateway}-scale", "weight", 1_000, {"weight_kg": 1.0})
    return AcceptedMessage(protocol.Envelope(gateway, epoch, seq, 1_000, (reading,)), 2_000, 0)


def test_on_sqlite_the_ledger_finds_a_commits_messages_by_key(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'registry.sqlite'}")
    migrate(engine)
    ledger = SqlIngestLedger(engine, clock=lambda: 1_800_000_000.0)
    try:
        with selects_run(engine) as statements:
            _exercise(ledger)
        assert_no_scans(engine, statements, _SCAN)
    finally:
        engine.dispose()


def _exercise(ledger) -> None:
    """Resends, a gap, a new gateway, a refusal and a drop notice."""
    first = [_message(f"gw-{g}", epoch, seq) for g in range(5) for epoch in (1, 2) for seq in range(1, 40)]
    assert ledger.record(first, []).new_keys == {m.key for m in first}
    again = first[::7] + [_message("gw-0", 1, 41), _message("gw-9", 3, 1)]
    assert ledger.already_stored([m.key for m in again]) == {m.key for m in first[::7]}
    recorded = ledger.record(again, [], refused=[(("gw-1", 1, 50), "unknown_sensor")], dropped=[("gw-2", 2, 60)])
    assert recorded.new_keys == {("gw-0", 1, 41), ("gw-9", 3, 1)}
    assert recorded.acks[("gw-0", 1)] == 39 and recorded.acks[("gw-9", 3)] == 1


def _assert_no_scans(db, statements: list[str]) -> None:
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert selects, "nothing was read: the test no longer looks at the lookups"
    for statement in selects:
        scans = [row[3] for row in db.execute("EXPLAIN QUERY PLAN " + statement).fetchall() if _SCAN.match(row[3])]
        assert not scans, f"{statement}: {scans}"


def test_the_file_ledger_finds_a_commits_messages_and_epochs_by_key(tmp_path):
    ledger = SqliteIngestLedger(tmp_path / "state.sqlite")
    statements: list[str] = []
    ledger._db.set_trace_callback(statements.append)  # the statements with their values bound
    try:
        _exercise(ledger)
        ledger._db.set_trace_callback(None)
        _assert_no_scans(ledger._db, statements)
    finally:
        ledger.close()


def test_the_readings_store_finds_stored_messages_by_key(tmp_path):
    store = SqliteReadingStore(tmp_path / "readings.sqlite")
    statements: list[str] = []
    store._db.set_trace_callback(statements.append)
    try:
        first = [_message(f"gw-{g}", 1, seq) for g in range(5) for seq in range(1, 30)]
        assert store.append(first) == len(first)
        assert store.append(first[::5] + [_message("gw-7", 2, 1)]) == 1  # resends are stored once
        store._db.set_trace_callback(None)
        _assert_no_scans(store._db, statements)
    finally:
        store.close()
