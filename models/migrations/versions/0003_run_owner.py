"""runs.owner_role: the office accountable for a run

Revision ID: 0002_run_owner
Revises: 0001
Create Date: 2026-12-03 07:15:00

A run started by a teacher or a 系部 has no owner_userid; it is owned by an
office (the spec's ``owner``, 教务处), as a whole. Existing rows get 教务处,
which is every spec's owner today.
"""
from alembic import op
import sqlalchemy as sa


revision = '0003_run_owner'
down_revision = '0002_workers'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('owner_role', sa.String(length=32), nullable=False, server_default='教务处'))


def downgrade() -> None:
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.drop_column('owner_role')
