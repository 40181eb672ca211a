"""Unverified-collateral schedules per commodity and per loan

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ('commodities', 'loans'):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column('unverified_grace_s', sa.Integer(), nullable=True))
            batch.add_column(sa.Column('unverified_zero_after_s', sa.Integer(), nullable=True))


def downgrade() -> None:
    for table in ('commodities', 'loans'):
        with op.batch_alter_table(table) as batch:
            batch.drop_column('unverified_zero_after_s')
            batch.drop_column('unverified_grace_s')
