"""Numbers people read (通知3, 1.4-2026-0007), one sequence per name, taken atomically.

A run's id is shared by notices and every workflow, so numbering by id left gaps; a counter row
per sequence, bumped by one upsert, gives each sequence its own numbers even under concurrent starts.
"""
from __future__ import annotations

from sqlalchemy import Integer, String
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class Counter(Base):
    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)  # e.g. notice, run:1.4:2026
    value: Mapped[int] = mapped_column(Integer, default=0)


async def next_number(s: AsyncSession, name: str) -> int:
    """The next number of sequence ``name`` (1 for a new one), in the caller's transaction."""
    insert = pg_insert if s.bind.dialect.name == "postgresql" else sqlite_insert
    stmt = insert(Counter).values(name=name, value=1)
    stmt = stmt.on_conflict_do_update(index_elements=[Counter.name], set_={"value": Counter.value + 1})
    return (await s.execute(stmt.returning(Counter.value))).scalar_one()
