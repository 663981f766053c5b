"""The effective timetable: what the bot believes happens on each day of a term.

The base 课表 (meetings with weekday, periods and weeks) laid on the 校历 — holidays hold no
classes, a 调休 day holds the classes of the weekday its entry names — then every approved
调课/停课/代课 applied. Pure: callers pass meetings and changes in.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Iterable, Protocol

from workflow.calendar import SchoolCalendar


class MeetingLike(Protocol):
    id: int
    teacher_userid: str
    teacher_name: str
    course: str
    weekday: int
    first_period: int
    last_period: int
    room: str

    @property
    def classes(self) -> list[str]: ...

    @property
    def weeks(self) -> frozenset[int]: ...


@dataclass(frozen=True)
class Occurrence:
    """One class actually held (or believed held) on a date."""

    date: dt.date
    week: int
    first: int
    last: int
    course: str
    classes: tuple[str, ...]
    room: str
    teacher_userid: str
    teacher_name: str
    meeting_id: int | None = None
    change: str = ""  # "" from the 课表; 调入 (moved here) / 代课 (another teacher), with run_id
    run_id: int | None = None

    def overlaps(self, date: dt.date, first: int, last: int) -> bool:
        return self.date == date and self.first <= last and first <= self.last


@dataclass(frozen=True)
class Change:
    """An approved (or pending) 调课/停课/代课, read from a 调停课 run's form answers."""

    run_id: int
    kind: str  # 调课 | 停课 | 代课
    teacher_userid: str
    teacher_name: str
    course: str
    class_name: str
    date: dt.date
    first: int
    last: int
    new_date: dt.date | None = None
    new_first: int = 0
    new_last: int = 0
    new_room: str = ""
    substitute_userid: str = ""
    substitute_name: str = ""

    @classmethod
    def from_form(cls, run_id: int, teacher_userid: str, teacher_name: str, form: dict) -> "Change | None":
        """None when the answers lack a readable original slot (an old or partial form)."""
        try:
            orig = form["original"]
            new = form.get("new_slot") or {}
            sub = form.get("substitute") or {}
            return cls(
                run_id=run_id, kind=form["type"], teacher_userid=teacher_userid, teacher_name=teacher_name,
                course=form.get("course", ""), class_name=form.get("class_name", ""),
                date=dt.date.fromisoformat(orig["date"]), first=int(orig["first"]), last=int(orig["last"]),
                new_date=dt.date.fromisoformat(new["date"]) if new.get("date") else None,
                new_first=int(new.get("first") or 0), new_last=int(new.get("last") or 0),
                new_room=form.get("new_place") or form.get("original_place", ""),
                substitute_userid=sub.get("userid", ""), substitute_name=sub.get("name", ""),
            )
        except (KeyError, TypeError, ValueError):
            return None


def teaching_days(cal: SchoolCalendar, start: dt.date, end: dt.date) -> list[tuple[dt.date, int, int]]:
    """(date, teaching week, whose weekday's classes) for each day in start..end that holds classes."""
    out = []
    d = start
    while d <= end:
        tw = cal.teaching_week(d)
        wd = cal.classes_weekday(d)
        if tw is not None and wd is not None:
            out.append((d, tw[1], wd))
        d += dt.timedelta(days=1)
    return out


def base_occurrences(meetings: Iterable[MeetingLike], cal: SchoolCalendar,
                     start: dt.date, end: dt.date) -> list[Occurrence]:
    by_weekday: dict[int, list[tuple[MeetingLike, frozenset[int], tuple[str, ...]]]] = {}
    for m in meetings:  # weeks and classes read once, not once a day
        by_weekday.setdefault(m.weekday, []).append((m, m.weeks, tuple(m.classes)))
    out = []
    for day, week, wd in teaching_days(cal, start, end):
        for m, weeks, classes in by_weekday.get(wd, []):
            if week in weeks:
                out.append(Occurrence(day, week, m.first_period, m.last_period, m.course, classes,
                                      m.room, m.teacher_userid, m.teacher_name, m.id))
    return out


def _affected(o: Occurrence, c: Change) -> bool:
    return (o.overlaps(c.date, c.first, c.last) and
            (o.teacher_userid == c.teacher_userid or c.class_name in o.classes))


def apply_changes(base: list[Occurrence], changes: Iterable[Change], cal: SchoolCalendar,
                  start: dt.date, end: dt.date) -> list[Occurrence]:
    """The base with each change applied in order: 停课 removes, 调课 moves, 代课 swaps the teacher."""
    out = list(base)
    for c in changes:
        hit = [o for o in out if _affected(o, c)]
        if c.kind == "代课":
            out = [replace(o, teacher_userid=c.substitute_userid, teacher_name=c.substitute_name,
                           change="代课", run_id=c.run_id) if o in hit else o for o in out]
            continue
        out = [o for o in out if o not in hit]
        if c.kind == "调课" and c.new_date and start <= c.new_date <= end:
            tw = cal.teaching_week(c.new_date)
            model = hit[0] if hit else None
            out.append(Occurrence(
                c.new_date, tw[1] if tw else 0, c.new_first, c.new_last, c.course,
                model.classes if model else (c.class_name,), c.new_room or (model.room if model else ""),
                c.teacher_userid, c.teacher_name, model.meeting_id if model else None, "调入", c.run_id))
    return sorted(out, key=lambda o: (o.date, o.first, o.course))


def effective(meetings: Iterable[MeetingLike], changes: Iterable[Change], cal: SchoolCalendar,
              start: dt.date, end: dt.date) -> list[Occurrence]:
    """What happens in start..end. A 调课 whose original falls outside the range still removes
    nothing there, and one moved into the range still appears: the base is laid over both days."""
    changes = list(changes)
    days = [start, end] + [c.date for c in changes] + [c.new_date for c in changes if c.new_date]
    lo, hi = min(days), max(days)
    full = apply_changes(base_occurrences(meetings, cal, lo, hi), changes, cal, lo, hi)
    return [o for o in full if start <= o.date <= end]
