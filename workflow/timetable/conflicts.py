"""Is a slot free? Checked against the effective timetable, the 校历 and pending requests.

Each conflict is a code and its values; the sentence is the macro of that name in
``messages/timetable/conflicts.j2`` (e.g. ``信息2301 该时段已有《大学英语》（B202，李明）``).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Iterable

from workflow.calendar import SchoolCalendar
from workflow.timetable.effective import Change, Occurrence, teaching_days

PERIOD_PAIRS = ((1, 2), (3, 4), (5, 6), (7, 8))


@dataclass(frozen=True)
class Conflict:
    code: str  # holiday | weekend | outside_term | exam_week | teacher_busy | class_busy | room_busy | pending
    values: dict = field(default_factory=dict, hash=False, compare=True)


@dataclass(frozen=True)
class Wanted:
    """The new slot asked for and who must be free in it."""

    date: dt.date
    first: int
    last: int
    teacher_userid: str
    classes: tuple[str, ...]
    room: str
    moving: Occurrence | None = None  # the meeting being moved does not clash with itself
    run_id: int | None = None  # this request's own run, when re-checked later


def calendar_conflicts(cal: SchoolCalendar, day: dt.date) -> list[Conflict]:
    if day in cal.holidays:
        return [Conflict("holiday", {"name": cal.holidays[day]})]
    tw = cal.teaching_week(day)
    if tw is None:
        return [Conflict("outside_term", {})]
    out = []
    if cal.classes_weekday(day) is None or (day.weekday() >= 5 and day not in cal.makeup_workdays):
        out.append(Conflict("weekend", {}))
    sem = cal.semester_of(day)
    if sem is not None and tw[1] in sem.exam_weeks:
        out.append(Conflict("exam_week", {"week": tw[1]}))
    return out


def slot_conflicts(w: Wanted, occurrences: Iterable[Occurrence], pending: Iterable[Change],
                   cal: SchoolCalendar) -> list[Conflict]:
    """Everything that stands in the way of ``w``, each named once."""
    out = calendar_conflicts(cal, w.date)
    for o in occurrences:
        if o.date != w.date:
            continue
        if not o.overlaps(w.date, w.first, w.last) or (w.moving is not None and o == w.moving):
            continue
        what = {"course": o.course, "room": o.room, "teacher": o.teacher_name, "classes": list(o.classes)}
        if o.teacher_userid == w.teacher_userid:
            out.append(Conflict("teacher_busy", what))
        for c in w.classes:
            if c in o.classes:
                out.append(Conflict("class_busy", {**what, "class_name": c}))
        if w.room and o.room == w.room:
            out.append(Conflict("room_busy", what))
    for p in pending:
        if p.run_id == w.run_id or p.kind != "调课" or p.new_date != w.date:
            continue
        if not (p.new_first <= w.last and w.first <= p.new_last):
            continue
        if p.teacher_userid == w.teacher_userid or p.class_name in w.classes or (w.room and p.new_room == w.room):
            out.append(Conflict("pending", {"run_id": p.run_id, "teacher": p.teacher_name, "course": p.course,
                                            "class_name": p.class_name, "room": p.new_room}))
    unique: list[Conflict] = []
    for c in out:
        if c not in unique:
            unique.append(c)
    return unique


def free_slots(w: Wanted, occurrences: list[Occurrence], pending: list[Change], cal: SchoolCalendar,
               start: dt.date, days: int = 14, limit: int = 5) -> list[tuple[dt.date, int, int]]:
    """Up to ``limit`` slots from ``start`` on, of the same length as ``w``, where the teacher, every
    class and the room are free and the 校历 has no objection (nearest first)."""
    length = w.last - w.first
    pairs = [(a, a + length) for a, _ in PERIOD_PAIRS if a + length <= 12]
    out = []
    by_day: dict[dt.date, list[Occurrence]] = {}
    classes = set(w.classes)
    for o in occurrences:  # each probe looks at its own day, and only at meetings that could clash
        if o.teacher_userid == w.teacher_userid or classes.intersection(o.classes) or (w.room and o.room == w.room):
            by_day.setdefault(o.date, []).append(o)
    for day, _week, _wd in teaching_days(cal, start, start + dt.timedelta(days=days)):
        for first, last in pairs:
            if w.moving is not None and (day, first, last) == (w.moving.date, w.moving.first, w.moving.last):
                continue  # where it is now is not a new slot
            probe = Wanted(day, first, last, w.teacher_userid, w.classes, w.room, w.moving, w.run_id)
            if not slot_conflicts(probe, by_day.get(day, []), pending, cal):
                out.append((day, first, last))
                if len(out) >= limit:
                    return out
    return out
