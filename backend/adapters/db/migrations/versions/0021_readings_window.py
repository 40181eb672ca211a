"""The readings window in the database (`timeseries.window: database`): the readings the
monitors read, shared by every backend host (issue 17)

Revision ID: 0021
Revises: 0020
"""
import sqlalchemy as sa
from alembic import op

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


# Rows rewritten at every batch: room on each page for the new version beside the old (a
# HOT update, no index entry to add).
_UPDATED_IN_PLACE = {'fillfactor': 50}


def _key() -> list:
    return [sa.Column('gateway', sa.String(length=64), nullable=False),
            sa.Column('epoch', sa.BigInteger(), nullable=False),
            sa.Column('seq', sa.BigInteger(), nullable=False)]


def upgrade() -> None:
    op.create_table(
        'window_messages', *_key(),
        sa.PrimaryKeyConstraint('gateway', 'epoch', 'seq', name=op.f('pk_window_messages')))
    op.create_table(
        'window_readings',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
        *_key(),
        sa.Column('idx', sa.Integer(), nullable=False),
        sa.Column('sensor', sa.Text(), nullable=False),
        sa.Column('kind', sa.Text(), nullable=False),
        sa.Column('time_ms', sa.BigInteger(), nullable=False),
        sa.Column('quality', sa.Text(), nullable=False),
        sa.Column('value', sa.Float(), nullable=True),
        sa.Column('values_json', sa.Text(), nullable=False),
        sa.Column('historical', sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_window_readings')))
    op.create_index('ix_window_readings_sensor_time', 'window_readings', ['sensor', 'time_ms'])
    if op.get_bind().dialect.name == 'postgresql':
        # Device time mostly follows id: a block-range index (a few pages, next to nothing to
        # keep up) finds the recent readings a monitor warms up with, and the expired ones.
        op.create_index('ix_window_readings_time_brin', 'window_readings', ['time_ms'], postgresql_using='brin')
    op.create_table(
        'window_latest',
        sa.Column('sensor', sa.Text(), nullable=False),
        sa.Column('gateway', sa.String(length=64), nullable=False),
        sa.Column('kind', sa.Text(), nullable=False),
        sa.Column('time_ms', sa.BigInteger(), nullable=False),
        sa.Column('quality', sa.Text(), nullable=False),
        sa.Column('value', sa.Float(), nullable=True),
        sa.Column('values_json', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('sensor', name=op.f('pk_window_latest')),
        postgresql_with=_UPDATED_IN_PLACE)
    op.create_table(
        'window_rfid_rounds',
        sa.Column('reader', sa.Text(), nullable=False),
        sa.Column('last_round_ms', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('reader', name=op.f('pk_window_rfid_rounds')),
        postgresql_with=_UPDATED_IN_PLACE)
    op.create_table(
        'window_tag_presence',
        sa.Column('reader', sa.Text(), nullable=False),
        sa.Column('epc', sa.Text(), nullable=False),
        sa.Column('last_seen_ms', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('reader', 'epc', name=op.f('pk_window_tag_presence')),
        postgresql_with=_UPDATED_IN_PLACE)
    op.create_table(
        'window_hourly',
        sa.Column('sensor', sa.Text(), nullable=False),
        sa.Column('kind', sa.Text(), nullable=False),
        sa.Column('hour_ms', sa.BigInteger(), nullable=False),
        sa.Column('count', sa.BigInteger(), nullable=False),
        sa.Column('min_value', sa.Float(), nullable=False),
        sa.Column('max_value', sa.Float(), nullable=False),
        sa.Column('sum_value', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('sensor', 'kind', 'hour_ms', name=op.f('pk_window_hourly')))


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_index('ix_window_readings_time_brin', table_name='window_readings')
    op.drop_index('ix_window_readings_sensor_time', table_name='window_readings')
    for table in ('window_hourly', 'window_tag_presence', 'window_rfid_rounds', 'window_latest',
                  'window_readings', 'window_messages'):
        op.drop_table(table)
