"""State that several backend hosts share through the database: the ingest ledger (which
messages are stored, per-gateway seq progress, gateway state, quarantine), the leases of
the monitor partitions and the monitor's lot views (what a process without the monitor
guards releases on). The ledger's tables mean what the SQLite ledger's do (sqlite_ledger.py)."""
from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, Column, Float, Index, Integer, LargeBinary, String, Table, Text

from backend.adapters.db.tables import ExactDecimal, metadata


def _key() -> list[Column]:
    return [Column("gateway", String(64), primary_key=True), Column("epoch", BigInteger, primary_key=True),
            Column("seq", BigInteger, primary_key=True)]


# The primary key decides which process recorded a message first (on every host).
ingest_messages = Table(
    "ingest_messages", metadata, *_key(),
    Column("readings", Integer, nullable=False),
    Column("sent_at_ms", BigInteger, nullable=False),
    Column("received_at_ms", BigInteger, nullable=False),
    Column("recorded_at_ms", BigInteger, nullable=False))

ingest_epochs = Table(
    "ingest_epochs", metadata,
    Column("gateway", String(64), primary_key=True), Column("epoch", BigInteger, primary_key=True),
    Column("contiguous_seq", BigInteger, nullable=False),
    Column("max_seq", BigInteger, nullable=False),
    Column("received", BigInteger, nullable=False),
    Column("last_seen_ms", BigInteger, nullable=False))

ingest_refused = Table(
    "ingest_refused", metadata, *_key(),
    Column("reason", Text, nullable=False),
    Column("refused_at_ms", BigInteger, nullable=False))

ingest_dropped = Table(
    "ingest_dropped", metadata, *_key(),
    Column("announced_at_ms", BigInteger, nullable=False))

ingest_gateway_state = Table(
    "ingest_gateway_state", metadata,
    Column("gateway", String(64), primary_key=True),
    Column("online", Boolean, nullable=False),
    Column("epoch", BigInteger, nullable=False),
    Column("info_json", Text, nullable=False),
    Column("changed_at_ms", BigInteger, nullable=False))

ingest_quarantine = Table(
    "ingest_quarantine", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("received_at_ms", BigInteger, nullable=False),
    Column("topic", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("detail", Text, nullable=False),
    Column("reading_count", Integer, nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Index("ix_ingest_quarantine_reason", "reason", "id"))

# One row per monitor partition: who holds it until when. `token` grows at every takeover
# and fences the holder's alert writes (monitor_repo.SqlAlerts.apply).
monitor_leases = Table(
    "monitor_leases", metadata,
    Column("partition", Integer, primary_key=True, autoincrement=False),
    Column("owner", String(128)),
    Column("token", BigInteger, nullable=False),
    Column("expires_at_s", Float, nullable=False),
    Column("taken_at_s", Float, nullable=False),
    Column("cursors", JSON, nullable=False))

# The monitors alive now (a heartbeat each): a fair share is the partitions over their number.
monitor_members = Table(
    "monitor_members", metadata,
    Column("owner", String(128), primary_key=True),
    Column("expires_at_s", Float, nullable=False))

# The monitor's view of each lot (backend/domain/lot_views.py), one row per lot and source (the
# monitor of the whole book, `book`, or a partition's, `index/count`): written when it changes.
lot_views = Table(
    "lot_views", metadata,
    Column("lot_id", String(64), primary_key=True),
    Column("source", String(32), primary_key=True),
    Column("loan_id", String(64)),
    Column("pledge_digest", String(32), nullable=False),
    Column("unverified", Text),
    Column("critical", Text),
    Column("rfid_ok", Boolean, nullable=False),
    Column("scale_ok", Boolean, nullable=False),
    Column("observed_items", Integer, nullable=False),
    Column("observed_quantity", String(40), nullable=False),  # decimal text: shown as the monitor has it
    Column("weight_net_kg", Float),
    Column("expected_weight_kg", Float, nullable=False),
    Column("missing", LargeBinary, nullable=False),  # bits over the sorted pledged EPCs
    Column("quality", String(40), nullable=False),
    Column("as_of_s", Float, nullable=False),
    Index("ix_lot_views_source", "source"))

# Each source's accepted price of each commodity (what its views' items are valued at).
lot_view_prices = Table(
    "lot_view_prices", metadata,
    Column("source", String(32), primary_key=True),
    Column("commodity_id", String(64), primary_key=True),
    Column("price", ExactDecimal, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("per_unit", String(16), nullable=False),
    Column("at_s", Float, nullable=False))

# Each source's last tick: all its views hold as of then.
lot_view_sources = Table(
    "lot_view_sources", metadata,
    Column("source", String(32), primary_key=True),
    Column("checked_s", Float, nullable=False))
