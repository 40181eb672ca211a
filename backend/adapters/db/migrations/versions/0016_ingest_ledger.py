"""The ingest ledger in the database, shared by the ingest workers of every host

Revision ID: 0016
Revises: 0015
"""
import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def _key() -> list:
    return [sa.Column('gateway', sa.String(length=64), nullable=False),
            sa.Column('epoch', sa.BigInteger(), nullable=False),
            sa.Column('seq', sa.BigInteger(), nullable=False)]


def upgrade() -> None:
    op.create_table(
        'ingest_messages', *_key(),
        sa.Column('readings', sa.Integer(), nullable=False),
        sa.Column('sent_at_ms', sa.BigInteger(), nullable=False),
        sa.Column('received_at_ms', sa.BigInteger(), nullable=False),
        sa.Column('recorded_at_ms', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('gateway', 'epoch', 'seq', name=op.f('pk_ingest_messages')))
    op.create_table(
        'ingest_epochs',
        sa.Column('gateway', sa.String(length=64), nullable=False),
        sa.Column('epoch', sa.BigInteger(), nullable=False),
        sa.Column('contiguous_seq', sa.BigInteger(), nullable=False),
        sa.Column('max_seq', sa.BigInteger(), nullable=False),
        sa.Column('received', sa.BigInteger(), nullable=False),
        sa.Column('last_seen_ms', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('gateway', 'epoch', name=op.f('pk_ingest_epochs')))
    op.create_table(
        'ingest_refused', *_key(),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('refused_at_ms', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('gateway', 'epoch', 'seq', name=op.f('pk_ingest_refused')))
    op.create_table(
        'ingest_dropped', *_key(),
        sa.Column('announced_at_ms', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('gateway', 'epoch', 'seq', name=op.f('pk_ingest_dropped')))
    op.create_table(
        'ingest_gateway_state',
        sa.Column('gateway', sa.String(length=64), nullable=False),
        sa.Column('online', sa.Boolean(), nullable=False),
        sa.Column('epoch', sa.BigInteger(), nullable=False),
        sa.Column('info_json', sa.Text(), nullable=False),
        sa.Column('changed_at_ms', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('gateway', name=op.f('pk_ingest_gateway_state')))
    op.create_table(
        'ingest_quarantine',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('received_at_ms', sa.BigInteger(), nullable=False),
        sa.Column('topic', sa.Text(), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('detail', sa.Text(), nullable=False),
        sa.Column('reading_count', sa.Integer(), nullable=False),
        sa.Column('payload', sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_ingest_quarantine')))
    op.create_index('ix_ingest_quarantine_reason', 'ingest_quarantine', ['reason', 'id'])


def downgrade() -> None:
    op.drop_index('ix_ingest_quarantine_reason', table_name='ingest_quarantine')
    for table in ('ingest_quarantine', 'ingest_gateway_state', 'ingest_dropped', 'ingest_refused',
                  'ingest_epochs', 'ingest_messages'):
        op.drop_table(table)
