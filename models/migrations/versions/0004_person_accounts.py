"""person_accounts: a person's accounts on each platform; outbox recipients name their platform

Revision ID: 0004_person_accounts
Revises: 0003_run_owner
Create Date: 2026-12-03 08:30:00

Until now a person's userid was their WeCom account. Every existing person gets
a ``wecom`` account with account_id = userid, so nothing changes for them. The
outbox's recipients gain the platform (and, for an answer to a stranger, the
account) they are sent through; old rows keep the platform of their message
and are sent to their userid, which was the account id before accounts existed.
"""
from alembic import op
import sqlalchemy as sa


revision = '0004_person_accounts'
down_revision = '0003_run_owner'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'person_accounts',
        sa.Column('platform', sa.String(length=16), nullable=False),
        sa.Column('account_id', sa.String(length=64), nullable=False),
        sa.Column('userid', sa.String(length=64), nullable=False),
        sa.Column('last_seen_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['userid'], ['people.userid'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('platform', 'account_id'),
        sa.UniqueConstraint('platform', 'userid', name='uq_person_accounts_platform_userid'),
    )
    with op.batch_alter_table('person_accounts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_person_accounts_userid'), ['userid'], unique=False)
    op.execute("INSERT INTO person_accounts (platform, account_id, userid) SELECT 'wecom', userid, userid FROM people")
    with op.batch_alter_table('outbox_recipients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('platform', sa.String(length=16), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('account_id', sa.String(length=64), nullable=False, server_default=''))
    # Rows from before keep their message's platform (a batched one is then resent as the identical request).
    op.execute("UPDATE outbox_recipients SET platform = (SELECT outbox.platform FROM outbox "
               "WHERE outbox.id = outbox_recipients.outbox_id)")


def downgrade() -> None:
    with op.batch_alter_table('outbox_recipients', schema=None) as batch_op:
        batch_op.drop_column('account_id')
        batch_op.drop_column('platform')
    with op.batch_alter_table('person_accounts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_person_accounts_userid'))
    op.drop_table('person_accounts')
