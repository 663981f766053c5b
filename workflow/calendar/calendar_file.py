"""The 校历 file: its YAML schema, the loader, and error messages naming the field to fix.

Dates stay text while parsing so pydantic can name the field of a bad one; every
problem is reported at once, one line each, in the words of someone editing YAML.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from workflow.calendar.terms import AcademicYear, Semester, Vacation

WEEKDAYS = "一二三四五六日"
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class CalendarError(Exception):
    """The 校历 file is invalid; ``str()`` lists every problem, one line each, naming the field."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


def _to_date(v: object) -> dt.date:
    """Dates stay strings in YAML (see _Loader) so a bad one is reported against its field."""
    if isinstance(v, dt.datetime):
        raise ValueError("应为日期 YYYY-MM-DD，不要带时间 (expected a date, not a datetime)")
    if isinstance(v, dt.date):
        return v
    if isinstance(v, str) and _ISO_DATE.match(v.strip()):
        try:
            return dt.date.fromisoformat(v.strip())
        except ValueError:
            raise ValueError(f"{v} 不是有效日期 (no such date)") from None
    raise ValueError(f"应为日期，写成 YYYY-MM-DD，例如 2026-09-07，而不是 {v!r} (expected a date)")


Day = Annotated[dt.date, BeforeValidator(_to_date)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SemesterEntry(_Strict):
    number: Literal[1, 2]  # 1 = 第一学期 (autumn), 2 = 第二学期 (spring)
    name: str = ""
    first_monday: Day
    weeks: int = Field(ge=1, le=30)
    exam_weeks: list[int] = Field(default_factory=list)

    @field_validator("first_monday")
    @classmethod
    def _monday(cls, v: dt.date) -> dt.date:
        if v.weekday() != 0:
            raise ValueError(f"应为第1周的星期一，{v} 是星期{WEEKDAYS[v.weekday()]} (must be a Monday)")
        return v


class VacationEntry(_Strict):
    name: str = Field(min_length=1)
    start: Day
    end: Day


class HolidayEntry(_Strict):
    name: str = Field(min_length=1)
    start: Day
    end: Day
    source: Literal["national", "school"] = "school"


class WorkdayEntry(_Strict):
    date: Day
    name: str = "调休上班"
    source: Literal["national", "school"] = "school"
    # whose classes are held that day: 1 (Monday) .. 7; omitted = no classes (a working day only)
    follows: int | None = Field(default=None, ge=1, le=7)


class CalendarFile(_Strict):
    academic_year: str
    start: Day | None = None  # default: 09-01 of the first year
    end: Day | None = None  # default: 08-31 of the second year
    semesters: list[SemesterEntry] = Field(min_length=1)
    vacations: list[VacationEntry] = Field(default_factory=list)
    holidays: list[HolidayEntry] = Field(default_factory=list)
    workdays: list[WorkdayEntry] = Field(default_factory=list)

    @field_validator("academic_year")
    @classmethod
    def _year(cls, v: str) -> str:
        m = re.match(r"^(\d{4})-(\d{4})$", str(v))
        if not m or int(m[2]) != int(m[1]) + 1:
            raise ValueError(f"应写成相邻两年，例如 \"2026-2027\"，而不是 {v!r} (expected YYYY-YYYY)")
        return v


class _Loader(yaml.SafeLoader):
    """SafeLoader that keeps dates as text, so pydantic names the field of a bad one."""


_Loader.add_constructor("tag:yaml.org,2002:timestamp", lambda loader, node: loader.construct_scalar(node))


def load_year(path: Path) -> AcademicYear:
    """One 校历 file as a school year; raises CalendarError naming every bad field."""
    name = path.name
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CalendarError([f"{path}: 文件不存在 (file not found)"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CalendarError([f"{path}: 无法读取 (cannot read): {exc}"]) from None
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 — a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"第 {mark.line + 1} 行" if mark else ""
        problem = getattr(exc, "problem", None) or "语法错误"
        raise CalendarError([f"{name}: YAML 格式错误 (invalid YAML) {where}: {problem}"]) from None
    if not isinstance(data, dict):
        raise CalendarError([f"{name}: 文件内容应是一个映射（academic_year、semesters …）(expected a mapping)"])
    try:
        cf = CalendarFile.model_validate(data)
    except ValidationError as exc:
        raise CalendarError([f"{name}: {_field(e['loc'])}: {_message(e)}" for e in exc.errors()]) from None
    problems = [f"{name}: {field}: {msg}" for field, msg in _cross_check(cf)]
    if problems:
        raise CalendarError(problems)
    first = int(cf.academic_year[:4])
    return AcademicYear(
        name=cf.academic_year,
        start=cf.start or dt.date(first, 9, 1),
        end=cf.end or dt.date(first + 1, 8, 31),
        semesters=tuple(
            Semester(cf.academic_year, s.number, s.name or ("第一学期" if s.number == 1 else "第二学期"),
                     s.first_monday, s.weeks, tuple(s.exam_weeks))
            for s in cf.semesters
        ),
        vacations=tuple(Vacation(v.name, v.start, v.end) for v in cf.vacations),
        holidays=tuple(cf.holidays),
        workdays=tuple(cf.workdays),
        source=name,
    )


def _cross_check(cf: CalendarFile) -> list[tuple[str, str]]:
    """Errors that involve more than one field, each against the field to fix."""
    out: list[tuple[str, str]] = []
    first = int(cf.academic_year[:4])
    start = cf.start or dt.date(first, 9, 1)
    end = cf.end or dt.date(first + 1, 8, 31)
    if end <= start:
        out.append(("end", f"{end} 应晚于 start {start} (end must be after start)"))
    seen: set[int] = set()
    for i, s in enumerate(cf.semesters):
        if s.number in seen:
            out.append((f"semesters[{i}].number", f"学期编号 {s.number} 重复 (duplicate)"))
        seen.add(s.number)
        if not start <= s.first_monday <= end:
            out.append((f"semesters[{i}].first_monday",
                        f"{s.first_monday} 不在学年 {start} 至 {end} 内 (outside the school year)"))
        bad = [w for w in s.exam_weeks if not 1 <= w <= s.weeks]
        if bad:
            out.append((f"semesters[{i}].exam_weeks",
                        f"第 {bad[0]} 周不在 1..{s.weeks} 内 (exam week outside the semester)"))
    for key, entries in (("vacations", cf.vacations), ("holidays", cf.holidays)):
        for i, e in enumerate(entries):
            if e.end < e.start:
                out.append((f"{key}[{i}].end", f"{e.end} 早于 start {e.start} (end before start)"))
    off = {d: h.name for h in cf.holidays for d in days(h.start, h.end)}
    for i, w in enumerate(cf.workdays):
        if w.date in off:
            out.append((f"workdays[{i}].date",
                        f"{w.date} 同时被列为节假日“{off[w.date]}” (also a holiday)"))
    return out


def _field(loc: tuple) -> str:
    """('semesters', 0, 'first_monday') -> 'semesters[0].first_monday'."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "file"


def _message(err: dict) -> str:
    """A pydantic error in the words of someone editing YAML."""
    kind, ctx = err["type"], err.get("ctx") or {}
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    if kind == "missing":
        return "缺少此字段 (required)"
    if kind == "extra_forbidden":
        return "未知字段 (unknown field)"
    if kind == "literal_error":
        return f"应为 {ctx.get('expected')} 之一，而不是 {err.get('input')!r}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"应为整数，而不是 {err.get('input')!r} (expected an integer)"
    if kind == "greater_than_equal":
        return f"应不小于 {ctx.get('ge')}，而不是 {err.get('input')!r}"
    if kind == "less_than_equal":
        return f"应不大于 {ctx.get('le')}，而不是 {err.get('input')!r}"
    if kind == "too_short":
        return "至少要有一项 (must not be empty)" if ctx.get("min_length") == 1 else err["msg"]
    if kind == "list_type":
        return "应为列表 (expected a list)"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return "应为映射 key: value (expected a mapping)"
    if kind == "invalid_key":
        return "键应为文字；YAML 把 no/yes/on/off 读成真假值，学期编号请写 number (keys must be text)"
    if kind == "string_type":
        return "应为文字 (expected text)"
    return err["msg"]


def days(start: dt.date, end: dt.date) -> Iterator[dt.date]:
    """Every day from start to end, both included."""
    d = start
    while d <= end:
        yield d
        d += dt.timedelta(days=1)
