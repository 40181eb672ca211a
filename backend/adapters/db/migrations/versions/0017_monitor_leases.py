"""Monitor partitions: their leases and the monitors alive; at most one active alert per
(type, subject), whichever monitor stores it

Revision ID: 0017
Revises: 0016
"""
import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'monitor_leases',
        sa.Column('partition', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('owner', sa.String(length=128), nullable=True),
        sa.Column('token', sa.BigInteger(), nullable=False),
        sa.Column('expires_at_s', sa.Float(), nullable=False),
        sa.Column('taken_at_s', sa.Float(), nullable=False),
        sa.Column('cursors', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('partition', name=op.f('pk_monitor_leases')))
    op.create_table(
        'monitor_members',
        sa.Column('owner', sa.String(length=128), nullable=False),
        sa.Column('expires_at_s', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('owner', name=op.f('pk_monitor_members')))
    op.create_index('uq_alerts_active_type_subject', 'alerts', ['type', 'subject'], unique=True,
                    postgresql_where=sa.text("state <> 'resolved'"), sqlite_where=sa.text("state <> 'resolved'"))


def downgrade() -> None:
    op.drop_index('uq_alerts_active_type_subject', table_name='alerts')
    op.drop_table('monitor_members')
    op.drop_table('monitor_leases')
