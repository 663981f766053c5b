"""workers heartbeat, fixed outbox batches, repeat variants

Revision ID: 0002_workers
Revises: 0001
Create Date: 2026-12-03 07:15:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0002_workers'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('workers',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('host', sa.String(length=255), nullable=False, server_default=''),
    sa.Column('pid', sa.Integer(), nullable=False, server_default='0'),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('last_seen', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_workers'))
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('body_hash', sa.String(length=64), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('variant', sa.Integer(), nullable=False, server_default='0'))
        batch_op.create_index(batch_op.f('ix_outbox_body_hash'), ['body_hash'], unique=False)
    with op.batch_alter_table('outbox_recipients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('worker', sa.String(length=64), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('batch', sa.String(length=64), nullable=False, server_default=''))
        batch_op.create_index(batch_op.f('ix_outbox_recipients_batch'), ['batch'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('outbox_recipients', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_recipients_batch'))
        batch_op.drop_column('batch')
        batch_op.drop_column('worker')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_body_hash'))
        batch_op.drop_column('variant')
        batch_op.drop_column('body_hash')
    op.drop_table('workers')
