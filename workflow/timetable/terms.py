"""A term is written 2026-2027-1: the school year and the semester number, as the 教务系统 writes it."""
from __future__ import annotations

import datetime as dt
import re

from workflow.calendar import SchoolCalendar


def parse_term(text: str) -> tuple[int, int] | None:
    """'2026-2027-1' → (2026, 1); None when it is not a term."""
    m = re.fullmatch(r"\s*(\d{4})-(\d{4})-([12])\s*", text or "")
    if not m or int(m.group(2)) != int(m.group(1)) + 1:
        return None
    return int(m.group(1)), int(m.group(3))


def term_name(start_year: int, number: int) -> str:
    return f"{start_year}-{start_year + 1}-{number}"


def term_on(cal: SchoolCalendar, day: dt.date) -> str | None:
    """The term whose teaching weeks contain ``day``, else the next one to start, else None."""
    sem = cal.semester_of(day)
    if sem is None:
        later = sorted((s for s in cal.semesters if s.start > day), key=lambda s: s.start)
        sem = later[0] if later else None
    return term_name(sem.start_year, sem.number) if sem else None
