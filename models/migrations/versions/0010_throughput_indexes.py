"""indexes for the busy paths: outbox recipients by person, a person's task in a run

Revision ID: 0010_throughput_indexes
Revises: 0009_counters
Create Date: 2026-12-03 15:00:00

Without it, each message's repeat check (``bot.outbox._repeat_variant``) read every earlier
message with the same words, so a 帮助 answered a thousand times cost a thousand-id scan. And a
确认收到 tap looked up its person's task through the run's index, reading all 10,000 tasks of a
10,000-person notice for each tap. And choosing a batch's people grouped every pending update.
"""
from alembic import op


revision = '0010_throughput_indexes'
down_revision = '0009_counters'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_outbox_recipients_user', 'outbox_recipients', ['userid', 'outbox_id'])
    op.create_index('ix_tasks_assignee_run', 'tasks', ['assignee', 'run_id'])
    op.create_index('ix_inbound_status_id', 'inbound', ['status', 'id'])


def downgrade() -> None:
    op.drop_index('ix_inbound_status_id', table_name='inbound')
    op.drop_index('ix_tasks_assignee_run', table_name='tasks')
    op.drop_index('ix_outbox_recipients_user', table_name='outbox_recipients')
