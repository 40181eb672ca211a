"""State that several backend hosts share through the database: the ingest ledger (which
messages are stored, per-gateway seq progress, gateway state, quarantine) and the leases of
the monitor partitions. Same meaning as the SQLite ledger's tables (sqlite_ledger.py)."""
from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, Column, Float, Index, Integer, LargeBinary, String, Table, Text

from backend.adapters.db.tables import metadata


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
