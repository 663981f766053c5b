"""The demo's fictional college: 教务处, three 系部 and 通识教育部."""
from __future__ import annotations

import csv
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.directory import import_rows, read_rows
from bot.timetable_store import has_term, import_term
from models import Person
from workflow.timetable import read_meetings

DEMO_DIRECTORY = Path(__file__).parent / "demo" / "directory.csv"
DEMO_TIMETABLE = Path(__file__).parent / "demo" / "timetable.csv"
DEMO_TERM = "2026-2027-1"  # the term the demo 课表 is written for (the shipped 校历's first semester)


async def seed_demo(s: AsyncSession) -> None:
    """Load the demo directory and its 课表 once (an existing directory or term is left alone)."""
    if not (await s.execute(select(func.count()).select_from(Person))).scalar_one():
        report = await import_rows(s, read_rows(DEMO_DIRECTORY))
        assert not report.refused, report.refused
    if not await has_term(s, DEMO_TERM):
        meetings, problems = read_meetings(_demo_table())
        timetable = await import_term(s, DEMO_TERM, meetings, problems)
        assert not timetable.problems, timetable.problems


def _demo_table() -> list[list[str]]:
    """The shipped demo 课表 (UTF-8, ours): read directly; uploaded sheets go through handlers/timetable/sheet.py."""
    with DEMO_TIMETABLE.open(encoding="utf-8-sig", newline="") as f:
        return [[cell.strip() for cell in row] for row in csv.reader(f) if any(cell.strip() for cell in row)]
