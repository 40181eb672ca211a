"""Archived envelopes of 1 KB or more are stored compressed (LZ4 block, size-prefixed): a
seventh of the bytes to write at the ingest rate, the same bytes back on reading (issue 15)

Revision ID: 0020
Revises: 0013
"""
import sqlalchemy as sa
from alembic import op

revision = '0020'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('evidence_envelopes') as batch:
        batch.add_column(sa.Column('compressed', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('evidence_envelopes') as batch:
        batch.drop_column('compressed')
