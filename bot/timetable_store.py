"""The 课表 in the database: import a term (matching teachers to the directory) and read it back.

Parsing is pure (``workflow/timetable``); this module only matches names and writes rows.
A re-import replaces the term in one transaction and reports what changed.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from models import Person, Run, SchoolClass, TimetableMeeting
from workflow.calendar import SchoolCalendar
from workflow.registry import default_specs
from workflow.timetable import Meeting, RowProblem
from workflow.timetable.rows import clashes_within
from workflow.timetable.effective import Change, Occurrence, effective
from workflow.timetable.terms import term_on
from workflow.timetable.weeks import weeks_text

ADJUST_CODE = "1.4"
TEACHING_ROLES = ("任课教师", "系部主任", "教研室主任", "教学秘书", "辅导员")


@dataclass
class TimetableReport:
    term: str
    kept: int = 0
    problems: list[RowProblem] = field(default_factory=list)
    replaced: bool = False  # the term had a 课表 before
    added: list[dict] = field(default_factory=list)  # one meeting each (see _line)
    removed: list[dict] = field(default_factory=list)
    changed: list[tuple[dict, dict]] = field(default_factory=list)  # (before, after)


async def _match_teachers(s: AsyncSession, meetings: list[Meeting]) -> tuple[dict[int, Person], list[RowProblem]]:
    """工号 first (the directory's userid), then the name — narrowed to the class's 系部 when several share it."""
    people = list((await s.execute(select(Person))).scalars())
    by_id = {p.userid: p for p in people}
    by_name: dict[str, list[Person]] = defaultdict(list)
    for p in people:
        by_name[p.name].append(p)
    class_dept = dict((await s.execute(select(SchoolClass.name, SchoolClass.department))).all())
    matched: dict[int, Person] = {}
    problems: list[RowProblem] = []
    for m in meetings:
        if m.staff_no:
            p = by_id.get(m.staff_no)
            if p is None:
                problems.append(RowProblem(m.row, "unknown_staff_no", {"staff_no": m.staff_no}))
            elif m.teacher and m.teacher != p.name:
                problems.append(RowProblem(m.row, "name_mismatch",
                                           {"staff_no": m.staff_no, "name": m.teacher, "directory": p.name}))
            else:
                matched[m.row] = p
            continue
        found = by_name.get(m.teacher, [])
        if len(found) > 1:
            depts = {class_dept.get(c) for c in m.classes} - {None}
            found = [p for p in found if p.department in depts]
        if len(found) == 1:
            matched[m.row] = found[0]
        elif not found and not by_name.get(m.teacher):
            problems.append(RowProblem(m.row, "unknown_teacher", {"name": m.teacher}))
        else:
            candidates = by_name[m.teacher]
            problems.append(RowProblem(m.row, "ambiguous_teacher", {
                "name": m.teacher, "candidates": [f"{p.userid}（{p.department}）" for p in candidates]}))
    return matched, problems


def _line(course: str, classes: list[str] | tuple[str, ...], weekday: int, first: int, last: int,
          weeks: frozenset[int], room: str, teacher: str) -> dict:
    """A meeting as messages/timetable/import_report.j2 prints it."""
    return {"course": course, "classes": list(classes), "weekday": weekday, "first": first, "last": last,
            "weeks": weeks_text(weeks), "room": room, "teacher": teacher}


@dataclass
class ImportPlan:
    """What an import would do, computed without writing: the report and the rows to keep."""

    report: TimetableReport
    good: list[Meeting]
    matched: dict[int, Person]

    @property
    def drastic(self) -> bool:
        """It would remove more than half of a term that had a 课表: worth a second look first."""
        before = len(self.report.removed) + self.report.kept - len(self.report.added)
        return self.report.replaced and len(self.report.removed) * 2 > max(before, 1)


async def plan_import(s: AsyncSession, term: str, meetings: list[Meeting], problems: list[RowProblem]) -> ImportPlan:
    """The report of replacing ``term`` with the good rows (bad rows with their row numbers); writes nothing."""
    report = TimetableReport(term=term)
    matched, teacher_problems = await _match_teachers(s, meetings)
    good = [m for m in meetings if m.row in matched]
    clash_problems = clashes_within(good, {r: p.userid for r, p in matched.items()})
    clashed = {p.row for p in clash_problems}
    good = [m for m in good if m.row not in clashed]
    report.problems = sorted(problems + teacher_problems + clash_problems, key=lambda p: p.row)
    old = list((await s.execute(select(TimetableMeeting).where(TimetableMeeting.term == term))).scalars())
    report.replaced = bool(old)
    old_by_key = {(o.course, tuple(o.classes), o.weekday, o.first_period, o.last_period): o for o in old}
    new_keys = set()
    for m in good:
        teacher = matched[m.row]
        new_keys.add(m.key())
        line = _line(m.course, m.classes, m.weekday, m.first_period, m.last_period, m.weeks, m.room, teacher.name)
        before = old_by_key.get(m.key())
        if before is None:
            report.added.append(line)
        elif (before.teacher_userid, before.room, before.weeks) != (teacher.userid, m.room, m.weeks):
            report.changed.append((_line(before.course, before.classes, before.weekday, before.first_period,
                                         before.last_period, before.weeks, before.room, before.teacher_name),
                                   line))
    for key, o in old_by_key.items():
        if key not in new_keys:
            report.removed.append(_line(o.course, o.classes, o.weekday, o.first_period, o.last_period,
                                        o.weeks, o.room, o.teacher_name))
    report.kept = len(good)
    return ImportPlan(report, good, matched)


async def apply_import(s: AsyncSession, plan: ImportPlan) -> TimetableReport:
    """Replace the plan's term with its good rows, in the caller's transaction."""
    term, matched = plan.report.term, plan.matched
    await s.execute(delete(TimetableMeeting).where(TimetableMeeting.term == term))
    s.add_all(TimetableMeeting(
        term=term, source_row=m.row, teacher_userid=matched[m.row].userid, teacher_name=matched[m.row].name,
        course=m.course, classes_text=";".join(m.classes), weekday=m.weekday, first_period=m.first_period,
        last_period=m.last_period, weeks_text=",".join(str(w) for w in sorted(m.weeks)), room=m.room,
    ) for m in plan.good)
    await s.flush()
    return plan.report


async def import_term(s: AsyncSession, term: str, meetings: list[Meeting],
                      problems: list[RowProblem]) -> TimetableReport:
    """Replace ``term`` with the good rows; bad rows are reported with their row numbers."""
    return await apply_import(s, await plan_import(s, term, meetings, problems))


async def term_meetings(s: AsyncSession, term: str) -> list[TimetableMeeting]:
    q = select(TimetableMeeting).where(TimetableMeeting.term == term).order_by(
        TimetableMeeting.weekday, TimetableMeeting.first_period, TimetableMeeting.id)
    return list((await s.execute(q)).scalars())


@dataclass(frozen=True, slots=True)
class PlainMeeting:
    """A stored meeting as plain values (no ORM identity), with classes and weeks parsed once."""

    id: int
    teacher_userid: str
    teacher_name: str
    course: str
    classes: tuple[str, ...]
    weekday: int
    first_period: int
    last_period: int
    weeks: frozenset[int]
    room: str


async def plain_meetings(s: AsyncSession, term: str) -> list[PlainMeeting]:
    """The term's meetings for the effective timetable: one light query, no ORM objects (1,500 rows a term)."""
    t = TimetableMeeting
    stamp = (await s.execute(select(func.count(), func.max(t.imported_at)).where(t.term == term))).one()
    key = (str(s.get_bind().url), term)
    cached = _TERM_CACHE.get(key)
    if cached is not None and cached[0] == tuple(stamp):
        return cached[1]
    q = select(t.id, t.teacher_userid, t.teacher_name, t.course, t.classes_text, t.weekday, t.first_period,
               t.last_period, t.weeks_text, t.room).where(t.term == term)
    rows = [PlainMeeting(i, u, n, c, _classes(ct), wd, f, l, _weeks(wt), r)
            for i, u, n, c, ct, wd, f, l, wt, r in (await s.execute(q)).all()]
    _TERM_CACHE[key] = (tuple(stamp), rows)
    return rows


# (database, term) → ((row count, last import time), meetings): a re-import changes the stamp, so every
# process sees a new term at its next read; the stamp query is one indexed aggregate.
_TERM_CACHE: dict[tuple[str, str], tuple[tuple, list[PlainMeeting]]] = {}


@lru_cache(maxsize=4096)
def _weeks(text: str) -> frozenset[int]:
    """Most meetings of a term share a handful of week lists: each is parsed once."""
    return frozenset(int(w) for w in text.split(",") if w)


@lru_cache(maxsize=4096)
def _classes(text: str) -> tuple[str, ...]:
    return tuple(x for x in text.split(";") if x)


async def has_term(s: AsyncSession, term: str) -> bool:
    q = select(TimetableMeeting.id).where(TimetableMeeting.term == term).limit(1)
    return (await s.execute(q)).first() is not None


def _approved_from() -> int:
    """The step index past which a 1.4 request is approved: after its last approval (read from the spec,
    so a step added in front — the substitute's 确认 — moves it)."""
    steps = default_specs()[ADJUST_CODE].steps
    return 1 + max(i for i, step in enumerate(steps) if step.kind == "approve")


async def adjustment_changes(s: AsyncSession) -> tuple[list[Change], list[Change]]:
    """(approved, pending) 调课/停课/代课 from the 调停课 runs' form answers, oldest first."""
    q = select(Run).where(Run.code == ADJUST_CODE, Run.status.in_(("open", "done"))).order_by(Run.id)
    runs = list((await s.execute(q)).scalars())
    who = dict((await s.execute(select(Person.userid, Person.name).where(
        Person.userid.in_({r.started_by for r in runs} or {""})))).all())
    approved: list[Change] = []
    pending: list[Change] = []
    approved_from = _approved_from()
    for run in runs:
        form = (run.data or {}).get("form") or {}
        change = Change.from_form(run.id, run.started_by, who.get(run.started_by, ""), form)
        if change is None:
            continue
        (approved if run.status == "done" or run.step_index >= approved_from else pending).append(change)
    return approved, pending


async def effective_between(s: AsyncSession, cal: SchoolCalendar, start: dt.date,
                            end: dt.date) -> tuple[list[Occurrence], list[Change]]:
    """The effective timetable of start..end (approved changes applied) and the pending requests."""
    terms = {t for t in (term_on(cal, start), term_on(cal, end)) if t}
    meetings = [m for t in sorted(terms) for m in await plain_meetings(s, t)]
    approved, pending = await adjustment_changes(s)
    return effective(meetings, approved, cal, start, end), pending
