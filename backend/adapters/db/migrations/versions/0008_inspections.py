"""Physical counts of lots (inspections)

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

from backend.adapters.db.tables import ExactDecimal

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'inspections',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('lot_id', sa.String(length=64), nullable=False),
        sa.Column('items', sa.Integer(), nullable=False),
        sa.Column('quantity', ExactDecimal(), nullable=False),
        sa.Column('temperature_c', sa.Float(), nullable=True),
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('recorded_by', sa.String(length=64), nullable=False),
        sa.Column('at_s', sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(['lot_id'], ['lots.id'], name=op.f('fk_inspections_lot_id_lots')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_inspections')))


def downgrade() -> None:
    op.drop_table('inspections')
