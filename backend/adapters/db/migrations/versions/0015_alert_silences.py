"""Silences: a warehouse's, a gateway's or an alert type's alerts marked as silenced for a while

Revision ID: 0015
Revises: 0012
"""
import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'alert_silences',
        sa.Column('id', sa.String(length=64), nullable=False),
        sa.Column('scope', sa.String(length=16), nullable=False),
        sa.Column('value', sa.String(length=64), nullable=False),
        sa.Column('gateway', sa.String(length=64)),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('created_by', sa.String(length=128), nullable=False),
        sa.Column('created_at_s', sa.Float(), nullable=False),
        sa.Column('until_s', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_silences')))
    op.create_index('ix_alert_silences_until', 'alert_silences', ['until_s'])


def downgrade() -> None:
    op.drop_index('ix_alert_silences_until', table_name='alert_silences')
    op.drop_table('alert_silences')
