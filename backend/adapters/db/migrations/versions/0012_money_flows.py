"""The money side of the closed loop (issue 14): repayments pending until confirmed, loan
interest and closing, top-up and substitution requests, drawdowns, interest postings

Revision ID: 0012
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op

from backend.adapters.db.tables import ExactDecimal

revision = '0012'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('repayments') as batch:
        batch.add_column(sa.Column('ref', sa.String(length=40), nullable=True))
        batch.add_column(sa.Column('state', sa.String(length=16), nullable=False, server_default='confirmed'))
        batch.add_column(sa.Column('entered_by', sa.String(length=128), nullable=False, server_default=''))
        batch.add_column(sa.Column('decided_by', sa.String(length=128), nullable=True))
        batch.add_column(sa.Column('decided_at_s', sa.Float(), nullable=True))
        batch.add_column(sa.Column('reason', sa.Text(), nullable=True))
        batch.create_unique_constraint(op.f('uq_repayments_ref'), ['ref'])
    with op.batch_alter_table('loans') as batch:
        batch.add_column(sa.Column('interest_rate', ExactDecimal(), nullable=True))
        batch.add_column(sa.Column('day_count', sa.String(length=8), nullable=True))
        batch.add_column(sa.Column('interest_accrued_to_s', sa.Float(), nullable=True))
        batch.add_column(sa.Column('closed_at_s', sa.Float(), nullable=True))
        batch.add_column(sa.Column('closed_by', sa.String(length=128), nullable=True))
    op.create_table(
        'collateral_requests',
        sa.Column('id', sa.String(length=40), nullable=False),
        sa.Column('loan_id', sa.String(length=64), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('pledge_lot', sa.String(length=64), nullable=False),
        sa.Column('release_lot', sa.String(length=64), nullable=True),
        sa.Column('at_s', sa.Float(), nullable=False),
        sa.Column('requested_by', sa.String(length=128), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('decided_by', sa.String(length=128), nullable=True),
        sa.Column('decided_at_s', sa.Float(), nullable=True),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['loan_id'], ['loans.id'], name=op.f('fk_collateral_requests_loan_id_loans')),
        sa.ForeignKeyConstraint(['pledge_lot'], ['lots.id'], name=op.f('fk_collateral_requests_pledge_lot_lots')),
        sa.ForeignKeyConstraint(['release_lot'], ['lots.id'], name=op.f('fk_collateral_requests_release_lot_lots')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_collateral_requests')))
    op.create_index('ix_collateral_requests_loan', 'collateral_requests', ['loan_id'])
    op.create_table(
        'drawdowns',
        sa.Column('id', sa.String(length=40), nullable=False),
        sa.Column('loan_id', sa.String(length=64), nullable=False),
        sa.Column('amount', ExactDecimal(), nullable=False),
        sa.Column('by', sa.String(length=128), nullable=False),
        sa.Column('at_s', sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(['loan_id'], ['loans.id'], name=op.f('fk_drawdowns_loan_id_loans')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_drawdowns')))
    op.create_table(
        'interest_postings',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('loan_id', sa.String(length=64), nullable=False),
        sa.Column('amount', ExactDecimal(), nullable=False),
        sa.Column('days', sa.Integer(), nullable=False),
        sa.Column('from_s', sa.Float(), nullable=False),
        sa.Column('to_s', sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(['loan_id'], ['loans.id'], name=op.f('fk_interest_postings_loan_id_loans')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_interest_postings')))
    op.create_index('uq_interest_postings_loan_to', 'interest_postings', ['loan_id', 'to_s'], unique=True)


def downgrade() -> None:
    op.drop_index('uq_interest_postings_loan_to', table_name='interest_postings')
    op.drop_table('interest_postings')
    op.drop_table('drawdowns')
    op.drop_index('ix_collateral_requests_loan', table_name='collateral_requests')
    op.drop_table('collateral_requests')
    with op.batch_alter_table('loans') as batch:
        for column in ('closed_by', 'closed_at_s', 'interest_accrued_to_s', 'day_count', 'interest_rate'):
            batch.drop_column(column)
    with op.batch_alter_table('repayments') as batch:
        batch.drop_constraint(op.f('uq_repayments_ref'), type_='unique')
        for column in ('reason', 'decided_at_s', 'decided_by', 'entered_by', 'state', 'ref'):
            batch.drop_column(column)
