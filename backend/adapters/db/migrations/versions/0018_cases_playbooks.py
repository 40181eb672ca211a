"""The risk case base: closed cases with their outcome, versioned playbooks, the tasks they
open on alerts, and the matches an alert carries (issue 16)

Revision ID: 0018
Revises: 0013 (the lead re-chains at the merge)
"""
import sqlalchemy as sa
from alembic import op

from backend.adapters.db.tables import ExactDecimal

revision = '0018'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('alerts') as batch:
        batch.add_column(sa.Column('matches', sa.JSON(), nullable=True))
    op.create_table(
        'cases',
        sa.Column('id', sa.String(length=64), nullable=False),
        sa.Column('alert_id', sa.String(length=64), nullable=False),
        *[sa.Column(name, sa.String(length=64), nullable=True) for name in (
            'lender_id', 'borrower_id', 'loan_id', 'lot_id', 'warehouse_id', 'gateway_id', 'commodity_id')],
        sa.Column('opened_at_s', sa.Float(), nullable=False),
        sa.Column('closed_at_s', sa.Float(), nullable=False),
        sa.Column('blind_s', sa.Float(), nullable=False),
        sa.Column('outcome', sa.String(length=32), nullable=False),
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('loss_amount', ExactDecimal(), nullable=True),
        sa.Column('loss_currency', sa.String(length=3), nullable=True),
        sa.Column('recorded_by', sa.String(length=128), nullable=False),
        sa.Column('alert_ids', sa.JSON(), nullable=False),
        sa.Column('alert_types', sa.JSON(), nullable=False),
        sa.Column('features', sa.JSON(), nullable=False),
        sa.Column('summary', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_cases')),
        sa.UniqueConstraint('alert_id', name=op.f('uq_cases_alert_id')))
    op.create_index('ix_cases_lender_closed', 'cases', ['lender_id', 'closed_at_s'])
    op.create_index('ix_cases_lot', 'cases', ['lot_id'])
    op.create_index('ix_cases_borrower', 'cases', ['borrower_id'])
    op.create_table(
        'playbook_versions',
        sa.Column('case_id', sa.String(length=64), nullable=False),
        sa.Column('version', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('steps', sa.JSON(), nullable=False),
        sa.Column('created_by', sa.String(length=128), nullable=False),
        sa.Column('created_at_s', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('case_id', 'version', name=op.f('pk_playbook_versions')))
    op.create_table(
        'playbook_tasks',
        sa.Column('alert_id', sa.String(length=64), nullable=False),
        sa.Column('step', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('case_id', sa.String(length=64), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('title', sa.Text(), nullable=False),
        sa.Column('owner_role', sa.String(length=16), nullable=False),
        sa.Column('description', sa.Text(), nullable=False),
        sa.Column('opened_at_s', sa.Float(), nullable=False),
        sa.Column('deadline_s', sa.Float(), nullable=False),
        sa.Column('lender_id', sa.String(length=64), nullable=True),
        sa.Column('loan_id', sa.String(length=64), nullable=True),
        sa.Column('lot_id', sa.String(length=64), nullable=True),
        sa.Column('done_at_s', sa.Float(), nullable=True),
        sa.Column('done_by', sa.String(length=128), nullable=True),
        sa.Column('escalated_at_s', sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(['alert_id'], ['alerts.id'], name=op.f('fk_playbook_tasks_alert_id_alerts')),
        sa.PrimaryKeyConstraint('alert_id', 'step', name=op.f('pk_playbook_tasks')))
    op.create_index('ix_playbook_tasks_undone', 'playbook_tasks', ['done_at_s', 'deadline_s'])


def downgrade() -> None:
    op.drop_index('ix_playbook_tasks_undone', table_name='playbook_tasks')
    op.drop_table('playbook_tasks')
    op.drop_table('playbook_versions')
    op.drop_index('ix_cases_borrower', table_name='cases')
    op.drop_index('ix_cases_lot', table_name='cases')
    op.drop_index('ix_cases_lender_closed', table_name='cases')
    op.drop_table('cases')
    with op.batch_alter_table('alerts') as batch:
        batch.drop_column('matches')
