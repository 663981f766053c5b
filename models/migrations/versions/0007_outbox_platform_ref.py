"""outbox recipients keep the platform's reference of what was sent, so a 通知 can be recalled

Revision ID: 0007_outbox_platform_ref
Revises: 0006_people_active
Create Date: 2026-12-03 12:10:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0007_outbox_platform_ref'
down_revision = '0006_people_active'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox_recipients') as batch:
        batch.add_column(sa.Column('platform_ref', sa.String(length=255), nullable=False, server_default=''))


def downgrade() -> None:
    with op.batch_alter_table('outbox_recipients') as batch:
        batch.drop_column('platform_ref')
