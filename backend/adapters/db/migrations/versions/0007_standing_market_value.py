"""A loan standing's market value (before haircut)

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

from backend.adapters.db.tables import ExactDecimal

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('loan_standings') as batch:
        batch.add_column(sa.Column('market_value', ExactDecimal(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('loan_standings') as batch:
        batch.drop_column('market_value')
