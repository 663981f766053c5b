"""timetable_meetings: the imported 课表

Revision ID: 0005_timetable
Revises: 0004_person_accounts
Create Date: 2026-12-03 08:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0005_timetable'
down_revision = '0004_person_accounts'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'timetable_meetings',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('term', sa.String(length=16), nullable=False),
        sa.Column('source_row', sa.Integer(), nullable=False),
        sa.Column('teacher_userid', sa.String(length=64), nullable=False),
        sa.Column('teacher_name', sa.String(length=64), nullable=False),
        sa.Column('course', sa.String(length=128), nullable=False),
        sa.Column('classes_text', sa.String(length=1024), nullable=False),
        sa.Column('weekday', sa.Integer(), nullable=False),
        sa.Column('first_period', sa.Integer(), nullable=False),
        sa.Column('last_period', sa.Integer(), nullable=False),
        sa.Column('weeks_text', sa.String(length=255), nullable=False),
        sa.Column('room', sa.String(length=64), nullable=False),
        sa.Column('imported_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_timetable_meetings')),
    )
    with op.batch_alter_table('timetable_meetings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_timetable_meetings_term'), ['term'], unique=False)
        batch_op.create_index(batch_op.f('ix_timetable_meetings_teacher_userid'), ['teacher_userid'], unique=False)
        batch_op.create_index(batch_op.f('ix_timetable_meetings_room'), ['room'], unique=False)


def downgrade() -> None:
    op.drop_table('timetable_meetings')
