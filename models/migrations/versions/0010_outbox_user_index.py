"""outbox_recipients by person: the repeat check and the per-person order look people up

Revision ID: 0010_outbox_user_index
Revises: 0009_counters
Create Date: 2026-12-03 15:00:00

Without it, each message's repeat check (``bot.outbox._repeat_variant``) read every earlier
message with the same words, so a 帮助 answered a thousand times cost a thousand-id scan.
"""
from alembic import op


revision = '0010_outbox_user_index'
down_revision = '0009_counters'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_outbox_recipients_user', 'outbox_recipients', ['userid', 'outbox_id'])


def downgrade() -> None:
    op.drop_index('ix_outbox_recipients_user', table_name='outbox_recipients')
