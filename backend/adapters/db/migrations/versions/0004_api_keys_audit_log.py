"""API keys and the audit log

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'api_keys',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('name', sa.String(length=128), nullable=False),
        sa.Column('role', sa.String(length=16), nullable=False),
        sa.Column('lender_id', sa.String(length=64), nullable=True),
        sa.Column('key_hash', sa.String(length=128), nullable=False),
        sa.Column('created_at_s', sa.Float(), nullable=False),
        sa.Column('created_by', sa.String(length=128), nullable=False),
        sa.Column('revoked_at_s', sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_api_keys')))
    op.create_table(
        'audit_log',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('at_s', sa.Float(), nullable=False),
        sa.Column('actor', sa.String(length=128), nullable=True),
        sa.Column('role', sa.String(length=16), nullable=True),
        sa.Column('method', sa.String(length=8), nullable=False),
        sa.Column('path', sa.Text(), nullable=False),
        sa.Column('status', sa.Integer(), nullable=False),
        sa.Column('client', sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log')))
    op.create_index('ix_audit_log_at', 'audit_log', ['at_s'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_audit_log_at', table_name='audit_log')
    op.drop_table('audit_log')
    op.drop_table('api_keys')
