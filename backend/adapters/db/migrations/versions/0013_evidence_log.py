"""The evidence log: leaves, subjects, perfect-subtree hashes, checkpoints, cosignatures, and
the archive of raw signed envelopes (issue 15)

Revision ID: 0013
Revises: 0017 (written on 0010; chained after main's latest, 0017, at the merge)
"""
import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'log_head',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('size', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_log_head')))
    op.execute("INSERT INTO log_head (id, size) VALUES (1, 0)")
    op.create_table(
        'log_entries',
        sa.Column('idx', sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('at_s', sa.BigInteger(), nullable=False),
        sa.Column('leaf', sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint('idx', name=op.f('pk_log_entries')))
    op.create_index('ix_log_entries_kind_at', 'log_entries', ['kind', 'at_s'])
    op.create_table(
        'log_subjects',
        sa.Column('name', sa.String(length=16), nullable=False),
        sa.Column('value', sa.String(length=128), nullable=False),
        sa.Column('idx', sa.BigInteger(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint('name', 'value', 'idx', name=op.f('pk_log_subjects')))
    op.create_table(
        'log_nodes',
        sa.Column('level', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('idx', sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column('hash', sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint('level', 'idx', name=op.f('pk_log_nodes')))
    op.create_table(
        'log_checkpoints',
        sa.Column('size', sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column('root_hash', sa.LargeBinary(length=32), nullable=False),
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('signed_at_s', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('size', name=op.f('pk_log_checkpoints')))
    op.create_table(
        'log_cosignatures',
        sa.Column('size', sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column('witness', sa.String(length=128), nullable=False),
        sa.Column('lender_id', sa.String(length=64), nullable=False),
        sa.Column('timestamp_s', sa.BigInteger(), nullable=False),
        sa.Column('line', sa.Text(), nullable=False),
        sa.Column('received_at_s', sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(['size'], ['log_checkpoints.size'], name=op.f('fk_log_cosignatures_size_log_checkpoints')),
        sa.PrimaryKeyConstraint('size', 'witness', name=op.f('pk_log_cosignatures')))
    op.create_table(
        'evidence_envelopes',
        sa.Column('gateway', sa.String(length=64), nullable=False),
        sa.Column('epoch', sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column('seq', sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column('received_at_ms', sa.BigInteger(), nullable=False),
        sa.Column('first_ms', sa.BigInteger(), nullable=False),
        sa.Column('last_ms', sa.BigInteger(), nullable=False),
        sa.Column('log_idx', sa.BigInteger(), nullable=False),
        sa.Column('payload', sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint('gateway', 'epoch', 'seq', name=op.f('pk_evidence_envelopes')))
    op.create_index('ix_evidence_envelopes_gateway_last', 'evidence_envelopes', ['gateway', 'last_ms'])
    op.create_index('uq_evidence_envelopes_log_idx', 'evidence_envelopes', ['log_idx'], unique=True)
    op.create_table(
        'evidence_holds',
        sa.Column('gateway', sa.String(length=64), nullable=False),
        sa.Column('until_ms', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('gateway', name=op.f('pk_evidence_holds')))


def downgrade() -> None:
    op.drop_table('evidence_holds')
    op.drop_index('uq_evidence_envelopes_log_idx', table_name='evidence_envelopes')
    op.drop_index('ix_evidence_envelopes_gateway_last', table_name='evidence_envelopes')
    op.drop_table('evidence_envelopes')
    op.drop_table('log_cosignatures')
    op.drop_table('log_checkpoints')
    op.drop_table('log_nodes')
    op.drop_table('log_subjects')
    op.drop_index('ix_log_entries_kind_at', table_name='log_entries')
    op.drop_table('log_entries')
    op.drop_table('log_head')
