"""Relational state (SQLAlchemy Core): the collateral registry, alerts, loan standings, prices.

SQLite by default, PostgreSQL for several backend processes; the schema is created and
changed only by Alembic migrations (backend/adapters/db/migrations). Money and ratios are
stored exactly (NUMERIC on PostgreSQL, decimal text on SQLite) and read back as Decimal.
"""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    false,
    text,
)
from sqlalchemy.types import TypeDecorator

metadata = MetaData(naming_convention={
    "pk": "pk_%(table_name)s", "fk": "fk_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s", "ix": "ix_%(table_name)s_%(column_0_name)s"})


class ExactDecimal(TypeDecorator):
    """Decimal in, Decimal out, never through a float."""

    impl = String(40)
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "postgresql":
            return dialect.type_descriptor(Numeric(28, 10))
        return dialect.type_descriptor(String(40))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return Decimal(value) if dialect.name == "postgresql" else str(Decimal(value))

    def process_result_value(self, value, dialect):
        return None if value is None else Decimal(value)


def _id(name: str = "id") -> Column:
    return Column(name, String(64), primary_key=True)


def _ref(name: str, target: str, nullable: bool = False) -> Column:
    return Column(name, String(64), ForeignKey(target), nullable=nullable)


lenders = Table("lenders", metadata, _id(), Column("name", Text, nullable=False, default=""))
borrowers = Table("borrowers", metadata, _id(), Column("name", Text, nullable=False, default=""))

commodities = Table(
    "commodities", metadata, _id(),
    Column("unit", String(16), nullable=False),
    Column("perishable", Boolean, nullable=False, default=False),
    Column("temperature_max_c", Float),
    Column("price_max_age_s", Integer, nullable=False),
    Column("quality_loss_per_degree_minute", ExactDecimal, nullable=False),
    Column("unverified_grace_s", Integer),          # both null: the monitor's default schedule
    Column("unverified_zero_after_s", Integer))

warehouses = Table("warehouses", metadata, _id(), Column("gateway_id", String(64), nullable=False,
                                                         unique=True))

lots = Table(
    "lots", metadata, _id(),
    _ref("warehouse_id", "warehouses.id"),
    _ref("commodity_id", "commodities.id"),
    Column("scale_id", String(64), nullable=False, unique=True),
    Column("reader_id", String(64), nullable=False, unique=True),
    Column("probe_id", String(64), unique=True),
    Column("tare_kg", Float, nullable=False, default=0.0))

# An EPC is one physical item: it belongs to one lot, whatever the loans say.
lot_items = Table(
    "lot_items", metadata,
    Column("epc", String(64), primary_key=True),
    _ref("lot_id", "lots.id"),
    Column("quantity", ExactDecimal, nullable=False),
    Column("weight_kg", Float, nullable=False))

loans = Table(
    "loans", metadata, _id(),
    _ref("lender_id", "lenders.id"),
    _ref("borrower_id", "borrowers.id"),
    Column("outstanding", ExactDecimal, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("haircut", ExactDecimal, nullable=False),
    Column("warning", ExactDecimal, nullable=False),
    Column("margin_call", ExactDecimal, nullable=False),
    Column("liquidation", ExactDecimal, nullable=False),
    Column("target_ltv", ExactDecimal, nullable=False),
    Column("cure_period_s", Integer, nullable=False),
    Column("unverified_grace_s", Integer),          # both null: its commodities' or the default
    Column("unverified_zero_after_s", Integer),
    Column("interest_rate", ExactDecimal),          # null: no interest
    Column("day_count", String(8)),
    Column("interest_accrued_to_s", Float),         # interest posted up to here
    Column("closed_at_s", Float),                   # closed: its pledges are released
    Column("closed_by", String(128)),
    # Moves with each delivery order issued: an approval is stored only on the one it read.
    Column("release_seq", Integer, nullable=False, server_default="0"))

# The double-pledge guard, enforced by the database too: a lot backs one active pledge.
loan_lots = Table(
    "loan_lots", metadata,
    _ref("loan_id", "loans.id"),
    _ref("lot_id", "lots.id"),
    Column("position", Integer, nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Index("uq_loan_lots_active_lot", "lot_id", unique=True,
          sqlite_where=text("active"), postgresql_where=text("active")))

releases = Table(
    "releases", metadata, _id(),
    _ref("loan_id", "loans.id"),
    _ref("lot_id", "lots.id"),
    Column("approved_by", String(64), nullable=False),
    Column("repayment", ExactDecimal, nullable=False),
    Column("at_s", Float, nullable=False),
    Column("epcs", JSON, nullable=False))

# A repayment takes effect when it is `confirmed` (by the lender, or an admin); a `pending`
# one changes nothing. `ref` is its id in the API (rows from before issue 14 have none).
repayments = Table(
    "repayments", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    _ref("loan_id", "loans.id"),
    Column("amount", ExactDecimal, nullable=False),
    Column("at_s", Float, nullable=False),
    Column("ref", String(40), unique=True),
    Column("state", String(16), nullable=False, server_default="confirmed"),
    Column("entered_by", String(128), nullable=False, server_default=""),
    Column("decided_by", String(128)),
    Column("decided_at_s", Float),
    Column("reason", Text))

# Top-ups and substitutions asked of a loan's lender, and what became of them.
collateral_requests = Table(
    "collateral_requests", metadata, Column("id", String(40), primary_key=True),
    _ref("loan_id", "loans.id"),
    Column("kind", String(16), nullable=False),     # pledge | substitution
    _ref("pledge_lot", "lots.id"),
    _ref("release_lot", "lots.id", nullable=True),
    Column("at_s", Float, nullable=False),
    Column("requested_by", String(128), nullable=False),
    Column("state", String(16), nullable=False),    # pending | approved | rejected
    Column("decided_by", String(128)),
    Column("decided_at_s", Float),
    Column("reason", Text),
    Index("ix_collateral_requests_loan", "loan_id"))

# Releases, maker-checker: requests (borrower or supervisor) decided by the loan's lender.
release_requests = Table(
    "release_requests", metadata, Column("id", String(40), primary_key=True),
    _ref("loan_id", "loans.id"),
    _ref("lot_id", "lots.id"),
    Column("items", Integer),                       # a count, or:
    Column("epcs", JSON),                           # exactly these EPCs
    Column("repayment_ref", String(40)),
    Column("at_s", Float, nullable=False),
    Column("requested_by", String(128), nullable=False),
    Column("state", String(16), nullable=False),    # pending | approved | refused
    Column("decided_by", String(128)),
    Column("decided_at_s", Float),
    Column("reason", Text),
    Column("delivery_order", String(40)),
    Index("ix_release_requests_loan", "loan_id"))

# Delivery orders: the signed document as issued, and its state since.
delivery_orders = Table(
    "delivery_orders", metadata, Column("id", String(40), primary_key=True),
    Column("request_id", String(40), nullable=False),
    _ref("loan_id", "loans.id"),
    _ref("lot_id", "lots.id"),
    Column("warehouse_id", String(64), nullable=False),
    Column("epcs", JSON, nullable=False),
    Column("issued_by", String(128), nullable=False),
    Column("issued_at_s", Float, nullable=False),
    Column("valid_until_s", Float, nullable=False),
    Column("state", String(16), nullable=False),    # issued | acknowledged | fulfilled | expired
    Column("body", LargeBinary, nullable=False),    # the signed canonical JSON
    Column("signature", String(128), nullable=False),
    Column("key_id", String(32), nullable=False),
    Column("acknowledged_by", String(128)),
    Column("acknowledged_at_s", Float),
    Column("closed_at_s", Float),
    Column("left_epcs", JSON),
    Index("ix_delivery_orders_state", "state"))

# An EPC is claimed by at most one pending request or open delivery order (enforced here).
release_claims = Table(
    "release_claims", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("epc", String(64), nullable=False),
    _ref("lot_id", "lots.id"),
    Column("request_id", String(40), nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Index("uq_release_claims_active_epc", "epc", unique=True,
          sqlite_where=text("active"), postgresql_where=text("active")),
    Index("ix_release_claims_request", "request_id"))

drawdowns = Table(
    "drawdowns", metadata, Column("id", String(40), primary_key=True),
    _ref("loan_id", "loans.id"),
    Column("amount", ExactDecimal, nullable=False),
    Column("by", String(128), nullable=False),
    Column("at_s", Float, nullable=False))

# Interest posted to a loan's outstanding amount, a row per posting (one per loan and `to_s`).
interest_postings = Table(
    "interest_postings", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    _ref("loan_id", "loans.id"),
    Column("amount", ExactDecimal, nullable=False),
    Column("days", Integer, nullable=False),
    Column("from_s", Float, nullable=False),
    Column("to_s", Float, nullable=False),
    Index("uq_interest_postings_loan_to", "loan_id", "to_s", unique=True))

alerts = Table(
    "alerts", metadata, _id(),
    Column("type", String(32), nullable=False),
    Column("subject", String(128), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("state", String(16), nullable=False),
    Column("opened_at_s", Float, nullable=False),
    Column("acknowledged_at_s", Float),
    Column("acknowledged_by", String(128)),
    Column("ack_note", Text),
    Column("resolved_at_s", Float),
    Column("resolved_by", String(128)),
    Column("loan_id", String(64)),
    Column("lot_id", String(64)),
    Column("lender_id", String(64)),
    Column("gateway_id", String(64)),
    Column("details", JSON, nullable=False),
    Column("matches", JSON),                    # standard and closed cases like it, as it opened
    Index("ix_alerts_state_type", "state", "type"),
    Index("ix_alerts_lender", "lender_id"),
    # One episode of a condition at a time, whichever monitor (partition owner) stores it.
    Index("uq_alerts_active_type_subject", "type", "subject", unique=True,
          postgresql_where=text("state <> 'resolved'"), sqlite_where=text("state <> 'resolved'")))

loan_standings = Table(
    "loan_standings", metadata,
    Column("loan_id", String(64), ForeignKey("loans.id"), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("ltv", ExactDecimal),
    Column("collateral_value", ExactDecimal),
    Column("drawing_power", ExactDecimal),
    Column("cure_deadline_s", Float),
    Column("cure_amount", ExactDecimal),
    Column("price_stale", Boolean, nullable=False),
    Column("updated_at_s", Float, nullable=False),
    Column("market_value", ExactDecimal))

# One row per loan per change of status, or per `history_every_s` while nothing changes:
# what the dashboard draws as LTV over time.
loan_history = Table(
    "loan_history", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    _ref("loan_id", "loans.id"),
    Column("at_s", Float, nullable=False),
    Column("status", String(16), nullable=False),
    Column("ltv", ExactDecimal),
    Column("collateral_value", ExactDecimal),
    Column("observed_quantity", ExactDecimal),
    Column("pledged_quantity", ExactDecimal),
    Index("ix_loan_history_loan_at", "loan_id", "at_s"))

price_marks = Table(
    "price_marks", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    _ref("commodity_id", "commodities.id"),
    Column("price", ExactDecimal, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("per_unit", String(16), nullable=False),
    Column("at_s", Float, nullable=False),
    Column("source", String(32), nullable=False),
    Index("ix_price_marks_commodity_at", "commodity_id", "at_s"))

# FX marks: one row per accepted quote, `rate` units of `quote_ccy` per one `base_ccy`.
fx_marks = Table(
    "fx_marks", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("base_ccy", String(3), nullable=False),
    Column("quote_ccy", String(3), nullable=False),
    Column("rate", ExactDecimal, nullable=False),
    Column("at_s", Float, nullable=False),
    Column("source", String(32), nullable=False),
    Index("ix_fx_marks_pair_at", "base_ccy", "quote_ccy", "at_s"))

# A bank's webhook endpoint. `secret` signs every delivery; during a rotation the previous
# secret signs too until `previous_secret_until_s`. Deleted endpoints keep their log.
webhook_endpoints = Table(
    "webhook_endpoints", metadata, _id(),
    _ref("lender_id", "lenders.id"),
    Column("url", Text, nullable=False),
    Column("secret", String(128), nullable=False),
    Column("previous_secret", String(128)),
    Column("previous_secret_until_s", Float),
    Column("event_types", JSON),  # None: every type
    Column("enabled", Boolean, nullable=False, default=True),
    Column("disabled_reason", Text),
    Column("disabled_at_s", Float),
    Column("deleted_at_s", Float),
    Column("created_at_s", Float, nullable=False),
    Index("ix_webhook_endpoints_lender", "lender_id"))

# The transactional outbox: written in the alert's own transaction, emptied by the relay.
# `body` is the CloudEvent exactly as sent, so every attempt carries the same bytes.
webhook_outbox = Table(
    "webhook_outbox", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(96), nullable=False),
    Column("endpoint_id", String(64), nullable=False),
    Column("lender_id", String(64), nullable=False),
    Column("alert_id", String(64)),
    Column("event_type", String(96), nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at_s", Float, nullable=False),
    Column("state", String(16), nullable=False),  # pending, delivered, failed, cancelled
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at_s", Float, nullable=False),
    Column("lease_until_s", Float),
    Column("lease_owner", String(64)),
    Column("done_at_s", Float),
    Index("uq_webhook_outbox_endpoint_event", "endpoint_id", "event_id", unique=True),
    Index("ix_webhook_outbox_due", "state", "next_attempt_at_s"))

# One row per delivery attempt: what the bank (and the admin) can read back.
webhook_deliveries = Table(
    "webhook_deliveries", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("outbox_id", Integer, nullable=False),
    Column("endpoint_id", String(64), nullable=False),
    Column("event_id", String(96), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("at_s", Float, nullable=False),
    Column("outcome", String(24), nullable=False),
    Column("status_code", Integer),
    Column("error", Text),
    Column("duration_ms", Float, nullable=False),
    Column("next_attempt_at_s", Float),
    Index("ix_webhook_deliveries_endpoint_at", "endpoint_id", "at_s"))

# Reminders of critical alerts nobody acknowledged: how many were sent, and when last.
alert_reminders = Table(
    "alert_reminders", metadata,
    Column("alert_id", String(64), primary_key=True),
    Column("count", Integer, nullable=False),
    Column("last_at_s", Float, nullable=False))

# Bumped by every registry write, in the same transaction: a process holding a registry
# snapshot (the monitor, another API process) reloads it when the version moved.
registry_version = Table(
    "registry_version", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("version", Integer, nullable=False))

# One-off conditions (a refused pledge) waiting for the monitor, whichever process runs it.
registry_notices = Table(
    "registry_notices", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at_s", Float, nullable=False),
    Column("condition", JSON, nullable=False))

# Keys gateways rotated to (`rotate_key`), each vouched for by the key it replaces.
rotated_keys = Table(
    "rotated_keys", metadata,
    Column("gateway_id", String(64), primary_key=True),
    Column("key_id", String(64), primary_key=True),
    Column("public_key_pem", Text, nullable=False),
    Column("registered_at_s", Float, nullable=False))

# A supervisor's physical counts of lots (issue 12): the monitor reads them in order of id.
inspections = Table(
    "inspections", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    _ref("lot_id", "lots.id"),
    Column("items", Integer, nullable=False),
    Column("quantity", ExactDecimal, nullable=False),
    Column("temperature_c", Float),
    Column("note", Text, nullable=False, default=""),
    Column("recorded_by", String(64), nullable=False),
    Column("at_s", Float, nullable=False))

# The alert inbox (issue 18): who works an alert, and what people said about it (kept).
alert_assignments = Table(
    "alert_assignments", metadata,
    Column("alert_id", String(64), ForeignKey("alerts.id"), primary_key=True),
    Column("assignee", String(128), nullable=False),
    Column("assigned_by", String(128), nullable=False),
    Column("at_s", Float, nullable=False))

alert_comments = Table(
    "alert_comments", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    _ref("alert_id", "alerts.id"),
    Column("author", String(128), nullable=False),
    Column("role", String(16), nullable=False),
    Column("text", Text, nullable=False),
    Column("at_s", Float, nullable=False),
    Index("ix_alert_comments_alert", "alert_id"))

# The evidence log (issue 15, docs/evidence.md): leaves in order, what each names, and every
# perfect subtree's hash (level 0: the leaf hashes), so root and proofs read O(log n) rows.
# `log_head` is the one row every appender updates first: the lock that serializes appends.
log_head = Table(
    "log_head", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("size", BigInteger, nullable=False))

# Migration 0023 lays these tables out with fewer b-trees on SQLite (written at the ingest rate):
# log_entries.idx and evidence_envelopes.log_idx are the rowids (envelopes' (gateway, epoch, seq)
# a unique index, uq_evidence_envelopes_message), log_nodes and log_subjects WITHOUT ROWID.
# The kind index leaves out batch.ingested entries; a query uses it when it names that condition.
LOG_ENTRIES_KIND_INDEX_WHERE = "kind <> 'batch.ingested'"
log_entries = Table(
    "log_entries", metadata,
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("kind", String(32), nullable=False),
    Column("at_s", BigInteger, nullable=False),
    Column("leaf", LargeBinary, nullable=False),
    Index("ix_log_entries_kind_at", "kind", "at_s", sqlite_where=text(LOG_ENTRIES_KIND_INDEX_WHERE),
          postgresql_where=text(LOG_ENTRIES_KIND_INDEX_WHERE)))

# Subjects of every entry but batch.ingested (the envelope archive indexes those).
log_subjects = Table(
    "log_subjects", metadata,
    Column("name", String(16), primary_key=True),
    Column("value", String(128), primary_key=True),
    Column("idx", BigInteger, primary_key=True, autoincrement=False))

log_nodes = Table(
    "log_nodes", metadata,
    Column("level", Integer, primary_key=True, autoincrement=False),
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary(32), nullable=False))

# Checkpoints the log signed (C2SP tlog-checkpoint notes), and the banks' cosignatures.
log_checkpoints = Table(
    "log_checkpoints", metadata,
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("root_hash", LargeBinary(32), nullable=False),
    Column("note", Text, nullable=False),
    Column("signed_at_s", Float, nullable=False))

log_cosignatures = Table(
    "log_cosignatures", metadata,
    Column("size", BigInteger, ForeignKey("log_checkpoints.size"), primary_key=True, autoincrement=False),
    Column("witness", String(128), primary_key=True),
    Column("lender_id", String(64), nullable=False),
    Column("timestamp_s", BigInteger, nullable=False),
    Column("line", Text, nullable=False),
    Column("received_at_s", Float, nullable=False))

# Raw signed data messages as received, kept for the loans' life plus the retention.
evidence_envelopes = Table(
    "evidence_envelopes", metadata,
    Column("gateway", String(64), primary_key=True),
    Column("epoch", BigInteger, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("received_at_ms", BigInteger, nullable=False),
    Column("first_ms", BigInteger, nullable=False),
    Column("last_ms", BigInteger, nullable=False),
    Column("log_idx", BigInteger, nullable=False),
    Column("payload", LargeBinary, nullable=False),   # as received, or LZ4-compressed when `compressed`
    Column("compressed", Boolean, nullable=False, server_default=false()),
    Index("ix_evidence_envelopes_gateway_last", "gateway", "last_ms"),
    Index("uq_evidence_envelopes_log_idx", "log_idx", unique=True))  # PostgreSQL; SQLite: see log_entries

# A gateway backing a pledge holds its envelopes until `until_ms` (refreshed while pledged).
evidence_holds = Table(
    "evidence_holds", metadata,
    Column("gateway", String(64), primary_key=True),
    Column("until_ms", BigInteger, nullable=False))

# Silences (backend/domain/silences.py): alerts in their scope are marked, never hidden from banks.
alert_silences = Table(
    "alert_silences", metadata,
    Column("id", String(64), primary_key=True),
    Column("scope", String(16), nullable=False),        # warehouse | gateway | type
    Column("value", String(64), nullable=False),
    Column("gateway", String(64)),                      # the warehouse's gateway, or the gateway itself
    Column("reason", Text, nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("created_at_s", Float, nullable=False),
    Column("until_s", Float, nullable=False),
    Index("ix_alert_silences_until", "until_s"))

# The risk case base (issue 16, docs/risk-cases.md): a closed episode with its outcome, one per
# closing alert; everything a risk score reads is a column.
cases = Table(
    "cases", metadata, _id(),
    Column("alert_id", String(64), nullable=False, unique=True),
    Column("lender_id", String(64)),
    Column("borrower_id", String(64)),
    Column("loan_id", String(64)),
    Column("lot_id", String(64)),
    Column("warehouse_id", String(64)),
    Column("gateway_id", String(64)),
    Column("commodity_id", String(64)),
    Column("opened_at_s", Float, nullable=False),
    Column("closed_at_s", Float, nullable=False),
    Column("blind_s", Float, nullable=False),
    Column("outcome", String(32), nullable=False),
    Column("note", Text, nullable=False),
    Column("loss_amount", ExactDecimal),
    Column("loss_currency", String(3)),
    Column("recorded_by", String(128), nullable=False),
    Column("alert_ids", JSON, nullable=False),
    Column("alert_types", JSON, nullable=False),
    Column("features", JSON, nullable=False),
    Column("summary", JSON, nullable=False),
    Index("ix_cases_lender_closed", "lender_id", "closed_at_s"),
    Index("ix_cases_lot", "lot_id"),
    Index("ix_cases_borrower", "borrower_id"))

# Each standard case's playbook, every version kept (version 1 from its file).
playbook_versions = Table(
    "playbook_versions", metadata,
    Column("case_id", String(64), primary_key=True),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("steps", JSON, nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("created_at_s", Float, nullable=False))

# A playbook's steps as tasks on the alert whose episode matched its case.
playbook_tasks = Table(
    "playbook_tasks", metadata,
    Column("alert_id", String(64), ForeignKey("alerts.id"), primary_key=True),
    Column("step", Integer, primary_key=True, autoincrement=False),
    Column("case_id", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("title", Text, nullable=False),
    Column("owner_role", String(16), nullable=False),
    Column("description", Text, nullable=False),
    Column("opened_at_s", Float, nullable=False),
    Column("deadline_s", Float, nullable=False),
    Column("lender_id", String(64)),
    Column("loan_id", String(64)),
    Column("lot_id", String(64)),
    Column("done_at_s", Float),
    Column("done_by", String(128)),
    Column("escalated_at_s", Float),
    Index("ix_playbook_tasks_undone", "done_at_s", "deadline_s"))

# Daily collateral reports (backend/services/reports.py): one per lender and day, kept as made and sent.
daily_reports = Table(
    "daily_reports", metadata,
    Column("lender_id", String(64), primary_key=True),
    Column("report_date", String(10), primary_key=True),  # YYYY-MM-DD in the lender's time zone
    Column("generated_at_s", Float, nullable=False),
    Column("locale", String(8), nullable=False),
    Column("loans", Integer, nullable=False),
    Column("html", Text, nullable=False),
    Column("pdf", LargeBinary, nullable=False),
    Column("pdf_sha256", String(64), nullable=False))
