"""Benchmark: a college term's 课表 (1,500 meetings) answering each query and check.

Imports a generated 课表 into SQLite through the real import, then times (median of 20)
one teacher's week, one class's week, one room's day, a 调课 check and 5 free slots, each
from the database through the effective timetable. Target: each under 50 ms. Never a timed test.

    .venv/bin/python -m bench.timetable_queries [--meetings 1500]
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGET_MS = 50.0
TERM = "2026-2027-1"
SLOTS = [(d, p) for d in range(1, 6) for p in (1, 3, 5, 7, 9)]


def _sheet(n: int) -> tuple[list[list[str]], list[tuple[str, str]]]:
    """n meetings, no two in one place at once: 25 slots a week × rooms, teachers and classes rotating."""
    rows = [["工号", "教师", "课程", "班级", "星期", "节次", "周次", "教室"]]
    for i in range(n):
        day, first = SLOTS[i % len(SLOTS)]
        k = i // len(SLOTS)  # the k-th meeting in this slot: its own room, class and teacher
        rows.append([f"t{k:03d}", "", f"课程{i % 97}",
                     f"班{k:03d}", str(day), f"{first}-{first + 1}", "1-16周", f"R{k:03d}"])
    return rows, [(f"t{k:03d}", f"教师{k:03d}") for k in range(n // len(SLOTS) + 1)]


async def main(n: int) -> dict:
    from bot.db import Database
    from bot.timetable_store import effective_between, import_term
    from models import Person
    from workflow.calendar import DEFAULT_CALENDAR_FILE, SchoolCalendar
    from workflow.timetable import read_meetings
    from workflow.timetable.conflicts import Wanted, free_slots, slot_conflicts

    cal = SchoolCalendar.load(DEFAULT_CALENDAR_FILE)
    table, people = _sheet(n)
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite+aiosqlite:///{tmp}/bench.db")
        await db.upgrade()
        async with db.session() as s:
            s.add_all(Person(userid=u, name=name, department="信息工程系", roles_text="任课教师") for u, name in people)
        meetings, problems = read_meetings(table)
        async with db.session() as s:
            report = await import_term(s, TERM, meetings, problems)
        assert report.kept == n and not report.problems, report.problems[:3]
        monday = dt.date(2026, 12, 7)
        sunday = monday + dt.timedelta(days=6)

        async def teacher_week():
            async with db.session() as s:
                occ, _ = await effective_between(s, cal, monday, sunday)
            return [o for o in occ if o.teacher_userid == "t003"]

        async def class_week():
            async with db.session() as s:
                occ, _ = await effective_between(s, cal, monday, sunday)
            return [o for o in occ if "班003" in o.classes]

        async def room_day():
            async with db.session() as s:
                occ, _ = await effective_between(s, cal, monday + dt.timedelta(days=3), monday + dt.timedelta(days=3))
            return [o for o in occ if o.room == "R003"]

        async def check():
            async with db.session() as s:
                occ, pending = await effective_between(s, cal, monday, sunday)
            return slot_conflicts(Wanted(monday + dt.timedelta(days=2), 3, 4, "t003", ("班003",), "R003"),
                                  occ, pending, cal)

        async def five_free():
            async with db.session() as s:
                occ, pending = await effective_between(s, cal, monday, monday + dt.timedelta(days=14))
            return free_slots(Wanted(monday, 1, 2, "t003", ("班003",), "R003"), occ, pending, cal, monday)

        out = {}
        for name, fn in [("teacher_week", teacher_week), ("class_week", class_week), ("room_day", room_day),
                         ("check", check), ("free_slots", five_free)]:
            await fn()
            times = []
            for _ in range(20):
                t0 = time.perf_counter()
                await fn()
                times.append((time.perf_counter() - t0) * 1000)
            out[name] = round(statistics.median(times), 1)
        await db.dispose()
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--meetings", type=int, default=1500)
    args = ap.parse_args()
    result = asyncio.run(main(args.meetings))
    for k, v in result.items():
        print(f"{k}: {v} ms (target < {TARGET_MS} ms){'' if v < TARGET_MS else '  ← over'}")
