"""Who may call the API (keys, stored only as salted hashes) and what they changed (audit)."""
from __future__ import annotations

from sqlalchemy import JSON, Column, Float, Index, Integer, String, Table, Text

from backend.adapters.db.tables import metadata

api_keys = Table(
    "api_keys", metadata,
    Column("id", String(32), primary_key=True),  # the public part of the key: pw_<id>_<secret>
    Column("name", String(128), nullable=False),
    Column("role", String(16), nullable=False),
    Column("lender_id", String(64)),
    Column("borrower_id", String(64)),               # a borrower key's borrower
    Column("warehouse_ids", JSON),                   # a warehouse key's warehouses
    Column("key_hash", String(128), nullable=False),
    Column("created_at_s", Float, nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("revoked_at_s", Float))

audit_log = Table(
    "audit_log", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at_s", Float, nullable=False),
    Column("actor", String(128)),  # null: the caller could not be identified
    Column("role", String(16)),
    Column("method", String(8), nullable=False),
    Column("path", Text, nullable=False),
    Column("status", Integer, nullable=False),
    Column("client", String(64)),
    Index("ix_audit_log_at", "at_s"))
