"""counters: notices and each workflow number their own records

Revision ID: 0009_counters
Revises: 0008_disputes_cards
Create Date: 2026-12-03 12:00:00

Notices become 通知N and runs CODE-YEAR-NNNN counted per workflow and year, no longer by the
shared run id. Existing numbers stay; each sequence starts after the highest one already given.
"""
import re

from alembic import op
import sqlalchemy as sa


revision = '0009_counters'
down_revision = '0008_disputes_cards'
branch_labels = None
depends_on = None


def upgrade() -> None:
    counters = op.create_table(
        'counters',
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('value', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_counters')),
    )
    highest: dict[str, int] = {}
    for code, record_no in op.get_bind().execute(sa.text("SELECT code, record_no FROM runs")):
        if code == "notice":
            name, m = "notice", re.search(r"(\d+)$", record_no or "")
        else:
            m = re.match(r"^(.+)-(\d{4})-(\d+)$", record_no or "")
            name = f"run:{m.group(1)}:{m.group(2)}" if m else ""
        if m and name:
            highest[name] = max(highest.get(name, 0), int(m.groups()[-1]))
    if highest:
        op.bulk_insert(counters, [{"name": k, "value": v} for k, v in highest.items()])


def downgrade() -> None:
    op.drop_table('counters')
