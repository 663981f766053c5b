"""disputes (有异议 threads) and card_copies (every delivered card, to update it later)

Revision ID: 0008_disputes_cards
Revises: 0007_outbox_platform_ref
Create Date: 2026-12-03 12:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0008_disputes_cards'
down_revision = '0007_outbox_platform_ref'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'disputes',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('run_id', sa.Integer(), nullable=False),
        sa.Column('task_id', sa.Integer(), nullable=False),
        sa.Column('userid', sa.String(length=64), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('answer', sa.Text(), nullable=False),
        sa.Column('decided_by', sa.String(length=64), nullable=False),
        sa.Column('decided_at', sa.DateTime(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_disputes_run_id_runs')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_disputes')),
    )
    with op.batch_alter_table('disputes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_disputes_run_id'), ['run_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_disputes_task_id'), ['task_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_disputes_status'), ['status'], unique=False)
    op.create_table(
        'card_copies',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('subject', sa.String(length=64), nullable=False),
        sa.Column('userid', sa.String(length=64), nullable=False),
        sa.Column('platform', sa.String(length=32), nullable=False),
        sa.Column('ref', sa.String(length=255), nullable=False),
        sa.Column('outbox_id', sa.Integer(), nullable=False),
        sa.Column('card_id', sa.String(length=128), nullable=False),
        sa.Column('settled', sa.String(length=128), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_card_copies')),
    )
    with op.batch_alter_table('card_copies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_card_copies_subject'), ['subject'], unique=False)


def downgrade() -> None:
    op.drop_table('card_copies')
    op.drop_table('disputes')
