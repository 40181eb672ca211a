"""Daily collateral reports: one per lender and day, kept as made and sent

Revision ID: 0022
Revises: 0013
"""
import sqlalchemy as sa
from alembic import op

revision = '0022'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'daily_reports',
        sa.Column('lender_id', sa.String(length=64), nullable=False),
        sa.Column('report_date', sa.String(length=10), nullable=False),
        sa.Column('generated_at_s', sa.Float(), nullable=False),
        sa.Column('locale', sa.String(length=8), nullable=False),
        sa.Column('loans', sa.Integer(), nullable=False),
        sa.Column('html', sa.Text(), nullable=False),
        sa.Column('pdf', sa.LargeBinary(), nullable=False),
        sa.Column('pdf_sha256', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('lender_id', 'report_date', name=op.f('pk_daily_reports')))


def downgrade() -> None:
    op.drop_table('daily_reports')
