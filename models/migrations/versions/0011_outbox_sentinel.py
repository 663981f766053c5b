"""outbox: a column for SQLAlchemy's insert sentinel

Revision ID: 0011_outbox_sentinel
Revises: 0010_throughput_indexes
Create Date: 2026-12-03 21:30:00

A batch's replies are inserted with one statement that returns their ids in the order given. SQLite's
RETURNING promises no order, so without a client-side sentinel SQLAlchemy inserted them one by one.
"""
import sqlalchemy as sa
from alembic import op


revision = '0011_outbox_sentinel'
down_revision = '0010_throughput_indexes'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox') as batch:
        batch.add_column(sa.Column('_sentinel', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('outbox') as batch:
        batch.drop_column('_sentinel')
