"""The monitor's lot views (backend/domain/lot_views.py): what a process without a monitor of
the whole book guards releases on, shared by every host through the database."""
from __future__ import annotations

from sqlalchemy import Boolean, Column, Float, Index, Integer, LargeBinary, String, Table, Text

from backend.adapters.db.tables import ExactDecimal, metadata

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
