"""The demo's fictional college: 教务处, three 系部 and 通识教育部."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.directory import import_rows, read_rows
from models import Person

DEMO_DIRECTORY = Path(__file__).parent / "demo" / "directory.csv"


async def seed_demo(s: AsyncSession) -> None:
    """Load the demo directory once (an existing directory is left alone)."""
    if (await s.execute(select(func.count()).select_from(Person))).scalar_one():
        return
    report = await import_rows(s, read_rows(DEMO_DIRECTORY))
    assert not report.refused, report.refused
