"""Keys gateways rotated to

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'rotated_keys',
        sa.Column('gateway_id', sa.String(length=64), nullable=False),
        sa.Column('key_id', sa.String(length=64), nullable=False),
        sa.Column('public_key_pem', sa.Text(), nullable=False),
        sa.Column('registered_at_s', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('gateway_id', 'key_id', name=op.f('pk_rotated_keys')))


def downgrade() -> None:
    op.drop_table('rotated_keys')
