"""A flat 课表 sheet → meetings, row by row: a bad row is named and skipped, good rows are kept."""
from __future__ import annotations

from dataclasses import dataclass, field

from workflow.timetable.weeks import (
    WeekSpecError, parse_periods, parse_weekday, parse_weeks, split_classes, weeks_text,
)

COLUMNS = ("工号", "教师", "课程", "班级", "星期", "节次", "周次", "教室")
REQUIRED = ("课程", "班级", "星期", "节次", "周次", "教室")


@dataclass(frozen=True)
class Meeting:
    """One meeting pattern: a teacher, a course, one or more classes (合班), a slot, its weeks, a room."""

    row: int
    staff_no: str
    teacher: str
    course: str
    classes: tuple[str, ...]
    weekday: int
    first_period: int
    last_period: int
    weeks: frozenset[int]
    room: str

    @property
    def weeks_text(self) -> str:
        return weeks_text(self.weeks)

    def key(self) -> tuple:
        """What makes two imports' meetings 'the same' when reporting changes."""
        return (self.course, self.classes, self.weekday, self.first_period, self.last_period)


@dataclass
class RowProblem:
    row: int
    code: str  # the macro in messages/timetable/problems.j2
    values: dict = field(default_factory=dict)


class SheetLayoutError(ValueError):
    """The sheet as a whole cannot be read as a 课表 (no header, missing columns)."""

    def __init__(self, code: str, missing: list[str] | None = None):
        super().__init__(code)
        self.code = code
        self.missing = missing or []


def _cell(row: list[str], idx: dict[str, int], name: str) -> str:
    i = idx.get(name)
    return row[i].strip() if i is not None and i < len(row) else ""


def read_meetings(table: list[list[str]]) -> tuple[list[Meeting], list[RowProblem]]:
    """Every data row checked: (good meetings, problems with row numbers; the header is row 1)."""
    if not table:
        raise SheetLayoutError("empty")
    header = [h.strip() for h in table[0]]
    missing = [c for c in REQUIRED if c not in header]
    if "工号" not in header and "教师" not in header:
        missing.insert(0, "工号/教师")
    if missing:
        raise SheetLayoutError("missing_columns", missing)
    idx = {h: i for i, h in enumerate(header) if h}
    meetings: list[Meeting] = []
    problems: list[RowProblem] = []
    for rowno, row in enumerate(table[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        cells = {c: _cell(row, idx, c) for c in COLUMNS}
        if cells["工号"].endswith(".0"):
            cells["工号"] = cells["工号"][:-2]
        empty = [c for c in REQUIRED if not cells[c]]
        if not cells["工号"] and not cells["教师"]:
            empty.insert(0, "工号/教师")
        if empty:
            problems.append(RowProblem(rowno, "empty_cells", {"columns": empty}))
            continue
        try:
            weekday = parse_weekday(cells["星期"])
            first, last = parse_periods(cells["节次"])
            weeks = parse_weeks(cells["周次"])
        except WeekSpecError as exc:
            problems.append(RowProblem(rowno, exc.code, {"value": exc.value}))
            continue
        meetings.append(Meeting(
            row=rowno, staff_no=cells["工号"], teacher=cells["教师"], course=cells["课程"],
            classes=tuple(split_classes(cells["班级"])), weekday=weekday, first_period=first,
            last_period=last, weeks=weeks, room=cells["教室"],
        ))
    return meetings, problems


def clashes_within(meetings: list[Meeting], teacher_of: dict[int, str]) -> list[RowProblem]:
    """Two rows of one sheet that put a teacher, a class or a room in two places at once.

    ``teacher_of`` maps a row to its matched userid. The later row is named, with the earlier one.
    """
    problems: list[RowProblem] = []
    taken: dict[tuple, int] = {}
    for m in meetings:
        owners = [("teacher", teacher_of.get(m.row, ""))] + [("class", c) for c in m.classes] + [("room", m.room)]
        keys = [(kind, who, week, m.weekday, period) for kind, who in owners if who
                for week in sorted(m.weeks) for period in range(m.first_period, m.last_period + 1)]
        clash = next((k for k in keys if k in taken), None)
        if clash is None:
            taken.update((k, m.row) for k in keys)
            continue
        kind, who, week = clash[0], clash[1], clash[2]
        problems.append(RowProblem(m.row, "clash", {"kind": kind, "who": who, "other": taken[clash], "week": week}))
    return problems
