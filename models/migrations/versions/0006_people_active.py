"""people.active: a person who left is deactivated, never deleted

Revision ID: 0006_people_active
Revises: 0005_timetable
Create Date: 2026-12-03 11:40:00

``campusbot directory sync`` marks people the platform no longer lists as inactive, so
runs, audit entries and records keep their names; inactive people get no messages and
no tasks. Everyone already in the directory stays active.
"""
from alembic import op
import sqlalchemy as sa


revision = '0006_people_active'
down_revision = '0005_timetable'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN, not a batch copy: on SQLite a batch drops and recreates ``people``, and
    # dropping it would cascade into person_accounts.
    op.add_column('people', sa.Column('active', sa.Boolean(), nullable=False, server_default=sa.true()))


def downgrade() -> None:
    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.drop_column('active')
