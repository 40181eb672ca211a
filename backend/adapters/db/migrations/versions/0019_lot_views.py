"""The monitor's lot views, stored for the processes that run no monitor of the whole book
(an API-only process, the hosts of partitioned monitors): their release guard (issue 12)

Revision ID: 0019
Revises: 0021
"""
import sqlalchemy as sa
from alembic import op

from backend.adapters.db.tables import ExactDecimal

revision = '0019'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'lot_views',
        sa.Column('lot_id', sa.String(length=64), nullable=False),
        sa.Column('source', sa.String(length=32), nullable=False),
        sa.Column('loan_id', sa.String(length=64), nullable=True),
        sa.Column('pledge_digest', sa.String(length=32), nullable=False),
        sa.Column('unverified', sa.Text(), nullable=True),
        sa.Column('critical', sa.Text(), nullable=True),
        sa.Column('rfid_ok', sa.Boolean(), nullable=False),
        sa.Column('scale_ok', sa.Boolean(), nullable=False),
        sa.Column('observed_items', sa.Integer(), nullable=False),
        sa.Column('observed_quantity', sa.String(length=40), nullable=False),
        sa.Column('weight_net_kg', sa.Float(), nullable=True),
        sa.Column('expected_weight_kg', sa.Float(), nullable=False),
        sa.Column('missing', sa.LargeBinary(), nullable=False),
        sa.Column('quality', sa.String(length=40), nullable=False),
        sa.Column('as_of_s', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('lot_id', 'source', name=op.f('pk_lot_views')))
    op.create_index('ix_lot_views_source', 'lot_views', ['source'])
    op.create_table(
        'lot_view_prices',
        sa.Column('source', sa.String(length=32), nullable=False),
        sa.Column('commodity_id', sa.String(length=64), nullable=False),
        sa.Column('price', ExactDecimal(), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('per_unit', sa.String(length=16), nullable=False),
        sa.Column('at_s', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('source', 'commodity_id', name=op.f('pk_lot_view_prices')))
    op.create_table(
        'lot_view_sources',
        sa.Column('source', sa.String(length=32), nullable=False),
        sa.Column('checked_s', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('source', name=op.f('pk_lot_view_sources')))


def downgrade() -> None:
    op.drop_table('lot_view_sources')
    op.drop_table('lot_view_prices')
    op.drop_index('ix_lot_views_source', table_name='lot_views')
    op.drop_table('lot_views')
