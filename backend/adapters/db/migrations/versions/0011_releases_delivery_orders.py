"""Releases as a closed loop (issue 14): release requests decided by the lender, signed
delivery orders, EPC claims (one pending request or open order per EPC), the loan's release
sequence; borrower and warehouse API keys

Revision ID: 0011
Revises: 0013
"""
import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('loans') as batch:
        batch.add_column(sa.Column('release_seq', sa.Integer(), nullable=False, server_default='0'))
    with op.batch_alter_table('api_keys') as batch:
        batch.add_column(sa.Column('borrower_id', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('warehouse_ids', sa.JSON(), nullable=True))
    op.create_table(
        'release_requests',
        sa.Column('id', sa.String(length=40), nullable=False),
        sa.Column('loan_id', sa.String(length=64), nullable=False),
        sa.Column('lot_id', sa.String(length=64), nullable=False),
        sa.Column('items', sa.Integer(), nullable=True),
        sa.Column('epcs', sa.JSON(), nullable=True),
        sa.Column('repayment_ref', sa.String(length=40), nullable=True),
        sa.Column('at_s', sa.Float(), nullable=False),
        sa.Column('requested_by', sa.String(length=128), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('decided_by', sa.String(length=128), nullable=True),
        sa.Column('decided_at_s', sa.Float(), nullable=True),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('delivery_order', sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(['loan_id'], ['loans.id'], name=op.f('fk_release_requests_loan_id_loans')),
        sa.ForeignKeyConstraint(['lot_id'], ['lots.id'], name=op.f('fk_release_requests_lot_id_lots')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_release_requests')))
    op.create_index('ix_release_requests_loan', 'release_requests', ['loan_id'])
    op.create_table(
        'delivery_orders',
        sa.Column('id', sa.String(length=40), nullable=False),
        sa.Column('request_id', sa.String(length=40), nullable=False),
        sa.Column('loan_id', sa.String(length=64), nullable=False),
        sa.Column('lot_id', sa.String(length=64), nullable=False),
        sa.Column('warehouse_id', sa.String(length=64), nullable=False),
        sa.Column('epcs', sa.JSON(), nullable=False),
        sa.Column('issued_by', sa.String(length=128), nullable=False),
        sa.Column('issued_at_s', sa.Float(), nullable=False),
        sa.Column('valid_until_s', sa.Float(), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('body', sa.LargeBinary(), nullable=False),
        sa.Column('signature', sa.String(length=128), nullable=False),
        sa.Column('key_id', sa.String(length=32), nullable=False),
        sa.Column('acknowledged_by', sa.String(length=128), nullable=True),
        sa.Column('acknowledged_at_s', sa.Float(), nullable=True),
        sa.Column('closed_at_s', sa.Float(), nullable=True),
        sa.Column('left_epcs', sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(['loan_id'], ['loans.id'], name=op.f('fk_delivery_orders_loan_id_loans')),
        sa.ForeignKeyConstraint(['lot_id'], ['lots.id'], name=op.f('fk_delivery_orders_lot_id_lots')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_delivery_orders')))
    op.create_index('ix_delivery_orders_state', 'delivery_orders', ['state'])
    op.create_table(
        'release_claims',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('epc', sa.String(length=64), nullable=False),
        sa.Column('lot_id', sa.String(length=64), nullable=False),
        sa.Column('request_id', sa.String(length=40), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(['lot_id'], ['lots.id'], name=op.f('fk_release_claims_lot_id_lots')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_release_claims')))
    op.create_index('uq_release_claims_active_epc', 'release_claims', ['epc'], unique=True,
                    sqlite_where=sa.text('active'), postgresql_where=sa.text('active'))
    op.create_index('ix_release_claims_request', 'release_claims', ['request_id'])


def downgrade() -> None:
    op.drop_index('ix_release_claims_request', table_name='release_claims')
    op.drop_index('uq_release_claims_active_epc', table_name='release_claims')
    op.drop_table('release_claims')
    op.drop_index('ix_delivery_orders_state', table_name='delivery_orders')
    op.drop_table('delivery_orders')
    op.drop_index('ix_release_requests_loan', table_name='release_requests')
    op.drop_table('release_requests')
    with op.batch_alter_table('api_keys') as batch:
        batch.drop_column('warehouse_ids')
        batch.drop_column('borrower_id')
    with op.batch_alter_table('loans') as batch:
        batch.drop_column('release_seq')
