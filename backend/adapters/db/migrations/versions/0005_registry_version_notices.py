"""Registry version and notices: several processes share one registry

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    version = op.create_table(
        'registry_version',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_registry_version')))
    op.bulk_insert(version, [{'id': 1, 'version': 0}])
    op.create_table(
        'registry_notices',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('at_s', sa.Float(), nullable=False),
        sa.Column('condition', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_registry_notices')))


def downgrade() -> None:
    op.drop_table('registry_notices')
    op.drop_table('registry_version')
