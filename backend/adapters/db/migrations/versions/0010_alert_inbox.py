"""The alert inbox: who works an alert, and people's comments on it

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'alert_assignments',
        sa.Column('alert_id', sa.String(length=64), nullable=False),
        sa.Column('assignee', sa.String(length=128), nullable=False),
        sa.Column('assigned_by', sa.String(length=128), nullable=False),
        sa.Column('at_s', sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(['alert_id'], ['alerts.id'], name=op.f('fk_alert_assignments_alert_id_alerts')),
        sa.PrimaryKeyConstraint('alert_id', name=op.f('pk_alert_assignments')))
    op.create_table(
        'alert_comments',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('alert_id', sa.String(length=64), nullable=False),
        sa.Column('author', sa.String(length=128), nullable=False),
        sa.Column('role', sa.String(length=16), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('at_s', sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(['alert_id'], ['alerts.id'], name=op.f('fk_alert_comments_alert_id_alerts')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_comments')))
    op.create_index('ix_alert_comments_alert', 'alert_comments', ['alert_id'])


def downgrade() -> None:
    op.drop_index('ix_alert_comments_alert', table_name='alert_comments')
    op.drop_table('alert_comments')
    op.drop_table('alert_assignments')
