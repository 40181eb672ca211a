"""The evidence log's tables written with fewer b-trees per ingested message (issue 15)

Every ingested data message appends a leaf, about two nodes and an archived envelope; each
b-tree a row goes into is a page to find, change and write to the WAL at the ingest rate.

- `ix_log_entries_kind_at` leaves out `batch.ingested` entries (both dialects): nothing asks for
  those by kind (the archive indexes them), and they are nearly all the entries.
- SQLite only: `log_entries.idx` and `evidence_envelopes.log_idx` become the tables' rowids
  (INTEGER PRIMARY KEY: no separate primary-key index; envelopes' (gateway, epoch, seq) is a
  unique index instead), and `log_nodes` and `log_subjects`, all key, are WITHOUT ROWID.
  On SQLite the tables are rebuilt: the rows are copied (minutes for a log of millions).

Revision ID: 0023
Revises: 0019
"""
import sqlalchemy as sa
from alembic import op

revision = '0023'
down_revision = '0019'
branch_labels = None
depends_on = None

NOT_INGESTED = "kind <> 'batch.ingested'"  # evidence_repo.of_kinds names the same term (SQLite matches it as written)

_ENTRIES = ("idx, kind, at_s, leaf", """
    idx {idx} NOT NULL, kind VARCHAR(32) NOT NULL, at_s BIGINT NOT NULL, leaf BLOB NOT NULL,
    CONSTRAINT pk_log_entries PRIMARY KEY (idx))""")
_SUBJECTS = ("name, value, idx", """
    name VARCHAR(16) NOT NULL, value VARCHAR(128) NOT NULL, idx BIGINT NOT NULL,
    CONSTRAINT pk_log_subjects PRIMARY KEY (name, value, idx)){without_rowid}""")
_NODES = ("level, idx, hash", """
    level INTEGER NOT NULL, idx BIGINT NOT NULL, hash BLOB NOT NULL,
    CONSTRAINT pk_log_nodes PRIMARY KEY (level, idx)){without_rowid}""")
_ENVELOPES = ("gateway, epoch, seq, received_at_ms, first_ms, last_ms, log_idx, payload, compressed", """
    gateway VARCHAR(64) NOT NULL, epoch BIGINT NOT NULL, seq BIGINT NOT NULL,
    received_at_ms BIGINT NOT NULL, first_ms BIGINT NOT NULL, last_ms BIGINT NOT NULL,
    log_idx {idx} NOT NULL, payload BLOB NOT NULL, compressed BOOLEAN DEFAULT 0 NOT NULL,
    CONSTRAINT pk_evidence_envelopes PRIMARY KEY ({key}))""")


def _rebuild(table: str, spec: tuple[str, str], order: str, **layout: str) -> None:
    """SQLite's way to change a table's keys: a new table, the rows copied in key order, renamed."""
    columns, body = spec
    op.execute(f"CREATE TABLE {table}_rebuilt ({body.format(**layout)}")
    op.execute(f"INSERT INTO {table}_rebuilt ({columns}) SELECT {columns} FROM {table} ORDER BY {order}")
    op.execute(f"DROP TABLE {table}")  # and its indexes
    op.execute(f"ALTER TABLE {table}_rebuilt RENAME TO {table}")


def upgrade() -> None:
    op.drop_index('ix_log_entries_kind_at', table_name='log_entries')
    if op.get_bind().dialect.name == 'sqlite':
        _rebuild('log_entries', _ENTRIES, 'idx', idx='INTEGER')
        _rebuild('log_subjects', _SUBJECTS, 'name, value, idx', without_rowid=' WITHOUT ROWID')
        _rebuild('log_nodes', _NODES, 'level, idx', without_rowid=' WITHOUT ROWID')
        _rebuild('evidence_envelopes', _ENVELOPES, 'log_idx', idx='INTEGER', key='log_idx')
        op.create_index('uq_evidence_envelopes_message', 'evidence_envelopes', ['gateway', 'epoch', 'seq'],
                        unique=True)
        op.create_index('ix_evidence_envelopes_gateway_last', 'evidence_envelopes', ['gateway', 'last_ms'])
    op.create_index('ix_log_entries_kind_at', 'log_entries', ['kind', 'at_s'],
                    sqlite_where=sa.text(NOT_INGESTED), postgresql_where=sa.text(NOT_INGESTED))


def downgrade() -> None:
    op.drop_index('ix_log_entries_kind_at', table_name='log_entries')
    if op.get_bind().dialect.name == 'sqlite':
        _rebuild('log_entries', _ENTRIES, 'idx', idx='BIGINT')
        _rebuild('log_subjects', _SUBJECTS, 'name, value, idx', without_rowid='')
        _rebuild('log_nodes', _NODES, 'level, idx', without_rowid='')
        _rebuild('evidence_envelopes', _ENVELOPES, 'gateway, epoch, seq', idx='BIGINT', key='gateway, epoch, seq')
        op.create_index('ix_evidence_envelopes_gateway_last', 'evidence_envelopes', ['gateway', 'last_ms'])
        op.create_index('uq_evidence_envelopes_log_idx', 'evidence_envelopes', ['log_idx'], unique=True)
    op.create_index('ix_log_entries_kind_at', 'log_entries', ['kind', 'at_s'])
