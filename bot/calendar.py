"""The 校历: teaching weeks, working days and the concrete dates of spec windows.

Working days come from the school's file first (its holidays and 调休 make-up days),
then chinese-calendar, then plain Monday–Friday for years neither knows: the bot must
not remind anyone on a holiday just because the State Council has not published it yet.

Window kinds resolve as follows (a teaching week runs Monday..Sunday):

- fixed: each MM-DD range in every calendar year; an end before the start crosses new year.
- teaching_weeks: weeks (a, b) of each listed semester; with from_end, 1 is the last week.
- every_n_weeks: weeks 1, 1+n, … of each semester, ``length_days`` long from that Monday.
- monthly: day_from..day_to of each month with teaching weeks (or each listed month) of
  every loaded school year; day_to is clipped to the month's length.
- months: from_month..to_month of every ``every_years``-th year, anchored on first_year
  or on the first loaded school year's start year.
- seasons: 春季/秋季 are the first 12 teaching weeks of the spring/autumn semester (a
  semester starting in January–July is spring), so they follow the 校历, not fixed dates.
- semester_phase: 开学 = the first ``weeks`` teaching weeks, 期末 = the last ``weeks``.
- on_demand: nothing.
"""
from __future__ import annotations

import calendar as _stdcal
import datetime as dt
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import chinese_calendar
import click
import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from workflow.spec import (
    EveryNWeeksWindow, FixedWindow, MonthlyWindow, MonthsWindow, OnDemandWindow,
    SeasonsWindow, SemesterPhaseWindow, TeachingWeeksWindow,
)

if TYPE_CHECKING:
    from workflow.spec import Window, WorkflowSpec

CALENDAR_DIR = Path(__file__).parent / "calendars"
DEFAULT_CALENDAR_FILE = CALENDAR_DIR / "2026-2027.yaml"
SEASON_WEEKS = 12  # 春季/秋季 = the first 12 teaching weeks of the semester
DEFAULT_SPAN_DAYS = 30  # `calendar windows` without --to shows the next 30 days
_WEEKDAYS = "一二三四五六日"
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class CalendarError(Exception):
    """The 校历 file is invalid; ``str()`` lists every problem, one line each, naming the field."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


# --- the file format -------------------------------------------------------------------


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
            raise ValueError(f"应为第1周的星期一，{v} 是星期{_WEEKDAYS[v.weekday()]} (must be a Monday)")
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


# --- the calendar ----------------------------------------------------------------------


@dataclass(frozen=True)
class Semester:
    academic_year: str  # "2026-2027"
    number: int  # 1 or 2
    name: str
    first_monday: dt.date
    weeks: int
    exam_weeks: tuple[int, ...] = ()

    @property
    def start_year(self) -> int:
        return int(self.academic_year[:4])

    @property
    def start(self) -> dt.date:
        return self.first_monday

    @property
    def end(self) -> dt.date:
        """The Sunday of the last teaching week."""
        return self.first_monday + dt.timedelta(days=7 * self.weeks - 1)

    @property
    def title(self) -> str:
        return f"{self.academic_year}学年{self.name}"

    def week_start(self, week: int) -> dt.date:
        if not 1 <= week <= self.weeks:
            raise ValueError(f"{self.title}只有 {self.weeks} 周，没有第 {week} 周")
        return self.first_monday + dt.timedelta(weeks=week - 1)

    def week_end(self, week: int) -> dt.date:
        return self.week_start(week) + dt.timedelta(days=6)


@dataclass(frozen=True)
class Vacation:
    name: str
    start: dt.date
    end: dt.date


@dataclass(frozen=True)
class AcademicYear:
    """One 校历 file."""

    name: str  # "2026-2027"
    start: dt.date
    end: dt.date
    semesters: tuple[Semester, ...]
    vacations: tuple[Vacation, ...]
    holidays: tuple[HolidayEntry, ...]
    workdays: tuple[WorkdayEntry, ...]
    source: str = ""  # file name, for messages

    @property
    def start_year(self) -> int:
        return int(self.name[:4])


@dataclass(frozen=True)
class ConcreteWindow:
    label: str
    start: dt.date
    end: dt.date  # inclusive
    opens_remind_on: dt.date  # lead_days working days before start (always a working day)


@lru_cache(maxsize=None)
def _cc_knows(year: int) -> bool:
    """Whether chinese-calendar has the State Council's arrangement for ``year``."""
    try:
        chinese_calendar.is_workday(dt.date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


class SchoolCalendar:
    """One or more school years' 校历, merged."""

    def __init__(self, years: Iterable[AcademicYear]):
        self.years: tuple[AcademicYear, ...] = tuple(sorted(years, key=lambda y: y.start))
        self.semesters: tuple[Semester, ...] = tuple(
            sorted((s for y in self.years for s in y.semesters), key=lambda s: s.first_monday)
        )
        self.vacations: tuple[Vacation, ...] = tuple(v for y in self.years for v in y.vacations)
        self.holidays: dict[dt.date, str] = {}
        self.makeup_workdays: dict[dt.date, str] = {}
        for y in self.years:
            for h in y.holidays:
                for day in _days(h.start, h.end):
                    self.holidays[day] = h.name
            for w in y.workdays:
                self.makeup_workdays[w.date] = w.name

    # loading

    @classmethod
    def load(cls, path: Path | str) -> "SchoolCalendar":
        """A 校历 file, or every ``*.yaml`` in a folder; raises CalendarError naming each bad field."""
        path = Path(path)
        if path.is_dir():
            return cls.load_dir(path)
        return cls([_load_year(path)])

    @classmethod
    def load_dir(cls, folder: Path | str) -> "SchoolCalendar":
        folder = Path(folder)
        files = sorted(folder.glob("*.yaml"))
        if not files:
            raise CalendarError([f"{folder}: 没有校历文件 *.yaml (no calendar files)"])
        years: list[AcademicYear] = []
        problems: list[str] = []
        for path in files:
            try:
                year = _load_year(path)
            except CalendarError as exc:
                problems.extend(exc.problems)
                continue
            if any(y.name == year.name for y in years):
                problems.append(f"{path.name}: academic_year: 学年 {year.name} 与另一个文件重复 (duplicate)")
                continue
            years.append(year)
        if problems:
            raise CalendarError(problems)
        return cls(years)

    @classmethod
    def merge(cls, calendars: Iterable["SchoolCalendar"]) -> "SchoolCalendar":
        return cls(y for c in calendars for y in c.years)

    @property
    def span(self) -> tuple[dt.date, dt.date]:
        """First and last day of the loaded school years."""
        return self.years[0].start, self.years[-1].end

    # checks

    def check(self) -> list[str]:
        """Things that load but look wrong, one line each (the file is still usable)."""
        warnings: list[str] = []
        for a, b in zip(self.years, self.years[1:]):
            if b.start <= a.end:
                warnings.append(f"学年 {a.name} 与 {b.name} 的日期重叠 (school years overlap)")
        for a, b in zip(self.semesters, self.semesters[1:]):
            if b.first_monday <= a.end:
                week = (b.first_monday - a.first_monday).days // 7 + 1
                warnings.append(
                    f"{a.title}的 {a.weeks} 周延伸到 {a.end}，从第 {week} 周起与{b.title}"
                    f"（{b.first_monday} 开始）重叠 (semesters overlap)"
                )
        for year in self.years:
            warnings.extend(_check_year(year))
        for year_no in sorted({n for y in self.years for n in range(y.start.year, y.end.year + 1)}):
            if not _cc_knows(year_no) and not any(d.year == year_no for d in self.holidays):
                warnings.append(
                    f"{year_no} 年的节假日既不在 chinese-calendar 中，也不在校历文件中，"
                    f"暂按周一至周五计算工作日 (no holiday data for {year_no})"
                )
        return warnings

    # working days

    def is_workday(self, d: dt.date) -> bool:
        """校历 make-up days and holidays first, then chinese-calendar, else Monday–Friday."""
        d = _as_day(d)
        if d in self.makeup_workdays:
            return True
        if d in self.holidays:
            return False
        try:
            return chinese_calendar.is_workday(d)
        except NotImplementedError:
            return d.weekday() < 5

    def add_workdays(self, d: dt.date, n: int) -> dt.date:
        """The date ``n`` working days after ``d`` (before it when negative), not counting ``d``."""
        d = _as_day(d)
        step = dt.timedelta(days=1 if n > 0 else -1)
        left = abs(n)
        while left:
            d += step
            if self.is_workday(d):
                left -= 1
        return d

    def workdays_before(self, d: dt.date, n: int) -> dt.date:
        """The ``n``-th working day before ``d``; with 0, ``d`` or the working day before it.

        Always a working day no later than ``d``: reminders go out on working days only,
        and a window opening on a holiday is better announced before the holiday.
        """
        if n < 0:
            raise ValueError("n 不能为负数")
        d = _as_day(d)
        if n:
            return self.add_workdays(d, -n)
        while not self.is_workday(d):
            d -= dt.timedelta(days=1)
        return d

    # teaching weeks

    def semester_of(self, d: dt.date) -> Semester | None:
        d = _as_day(d)
        for sem in self.semesters:
            if sem.start <= d <= sem.end:
                return sem
        return None

    def teaching_week(self, d: dt.date) -> tuple[int, int] | None:
        """(semester number, week number) of ``d``, or None outside the teaching weeks."""
        sem = self.semester_of(d)
        if sem is None:
            return None
        return sem.number, (_as_day(d) - sem.first_monday).days // 7 + 1

    def semester(self, number: int, year: int | None = None) -> Semester:
        """Semester ``number`` of the school year starting in ``year`` (needed when several are loaded)."""
        if year is None:
            if len(self.years) > 1:
                raise ValueError("已加载多个学年，请指明 year（学年开始的年份，例如 2026）")
            year = self.years[0].start_year
        for sem in self.semesters:
            if sem.number == number and sem.start_year == year:
                return sem
        raise ValueError(f"校历中没有 {year} 学年的第 {number} 学期")

    def week_start(self, semester_no: int, week_no: int, year: int | None = None) -> dt.date:
        """Monday of teaching week ``week_no``."""
        return self.semester(semester_no, year).week_start(week_no)

    # windows

    def resolve(self, window: "Window", start: dt.date, end: dt.date) -> list[ConcreteWindow]:
        """The window's concrete dates that overlap ``start``..``end`` (whole, not clipped)."""
        start, end = _as_day(start), _as_day(end)
        if end < start:
            raise ValueError(f"结束日期 {end} 早于开始日期 {start}")
        found = {
            ConcreteWindow(label, s, e, self.workdays_before(s, window.lead_days))
            for label, s, e in self._spans(window, start, end)
            if s <= end and e >= start
        }
        return sorted(found, key=lambda w: (w.start, w.end, w.label))

    def _spans(self, window: "Window", start: dt.date, end: dt.date) -> Iterator[tuple[str, dt.date, dt.date]]:
        """Candidate (label, start, end) triples; resolve() keeps the overlapping ones."""
        years = range(start.year - 1, end.year + 1)  # -1: ranges that began last year
        if isinstance(window, FixedWindow):
            for y in years:
                for r in window.ranges:
                    s = _mmdd(y, r.start)
                    e = _mmdd(y if r.end >= r.start else y + 1, r.end)
                    yield r.label or window.label or f"{y}年", s, e
        elif isinstance(window, TeachingWeeksWindow):
            lo, hi = sorted(window.weeks)
            for sem in self._semesters(window.semesters):
                a, b = (sem.weeks - hi + 1, sem.weeks - lo + 1) if window.from_end else (lo, hi)
                a, b = max(a, 1), min(b, sem.weeks)
                if a <= b:
                    weeks = f"第{a}周" if a == b else f"第{a}-{b}周"
                    yield window.label or f"{sem.name}{weeks}", sem.week_start(a), sem.week_end(b)
        elif isinstance(window, EveryNWeeksWindow):
            for sem in self._semesters(window.semesters):
                for w in range(1, sem.weeks + 1, window.every):
                    s = sem.week_start(w)
                    e = min(s + dt.timedelta(days=window.length_days - 1), sem.end)
                    yield window.label or f"{sem.name}第{w}周", s, e
        elif isinstance(window, MonthlyWindow):
            for y, m in self._school_months(window.months):
                s = dt.date(y, m, window.day_from)
                if window.day_to >= window.day_from:
                    e = dt.date(y, m, min(window.day_to, _month_len(y, m)))
                else:  # e.g. 25..05: runs into the next month
                    ny, nm = (y + 1, 1) if m == 12 else (y, m + 1)
                    e = dt.date(ny, nm, min(window.day_to, _month_len(ny, nm)))
                yield window.label or f"{y}年{m}月", s, e
        elif isinstance(window, MonthsWindow):
            anchor = window.first_year or (self.years[0].start_year if self.years else start.year)
            for y in years:
                if (y - anchor) % window.every_years:
                    continue
                ey = y if window.to_month >= window.from_month else y + 1
                s = dt.date(y, window.from_month, 1)
                e = dt.date(ey, window.to_month, _month_len(ey, window.to_month))
                if window.from_month == window.to_month:
                    default = f"{y}年{window.from_month}月"
                elif ey == y:
                    default = f"{y}年{window.from_month}-{window.to_month}月"
                else:
                    default = f"{y}年{window.from_month}月至{ey}年{window.to_month}月"
                yield window.label or default, s, e
        elif isinstance(window, SeasonsWindow):
            for sem in self.semesters:
                season = "春季" if sem.first_monday.month <= 7 else "秋季"
                if season in window.seasons:
                    last = min(SEASON_WEEKS, sem.weeks)
                    yield window.label or f"{sem.first_monday.year}年{season}", sem.first_monday, sem.week_end(last)
        elif isinstance(window, SemesterPhaseWindow):
            for sem in self._semesters(window.semesters):
                n = min(window.weeks, sem.weeks)
                a, b = (1, n) if window.phase == "开学" else (sem.weeks - n + 1, sem.weeks)
                yield window.label or f"{sem.name}{window.phase}", sem.week_start(a), sem.week_end(b)
        elif isinstance(window, OnDemandWindow):
            return
        else:  # a new kind in handlers/spec.py must be taught here
            raise TypeError(f"unknown window kind: {getattr(window, 'kind', window)!r}")

    def _semesters(self, numbers: Iterable[int]) -> list[Semester]:
        wanted = set(numbers)
        return [s for s in self.semesters if s.number in wanted]

    def _school_months(self, months: list[int] | None) -> Iterator[tuple[int, int]]:
        """(year, month) of each school year: the listed months, or those with teaching weeks."""
        for year in self.years:
            y, m = year.start.year, year.start.month
            while (y, m) <= (year.end.year, year.end.month):
                first, last = dt.date(y, m, 1), dt.date(y, m, _month_len(y, m))
                if months is not None:
                    if m in months:
                        yield y, m
                elif any(s.start <= last and s.end >= first for s in year.semesters):
                    yield y, m
                y, m = (y + 1, 1) if m == 12 else (y, m + 1)


def resolve(window: "Window", start: dt.date, end: dt.date, cal: SchoolCalendar | None = None) -> list[ConcreteWindow]:
    """``cal.resolve(...)`` with the default 校历 when ``cal`` is None."""
    return (cal or default_calendar()).resolve(window, start, end)


def windows_between(
    specs: Mapping[str, "WorkflowSpec"] | Iterable["WorkflowSpec"],
    cal: SchoolCalendar,
    start: dt.date,
    end: dt.date,
) -> list[dict[str, str]]:
    """Every spec window overlapping start..end as {code, name, label, start, end}, ISO dates.

    Sorted by start, then code (1.9 before 1.10); on-demand specs have none.
    """
    items = specs.values() if isinstance(specs, Mapping) else specs
    rows: list[dict[str, str]] = []
    for spec in items:
        for window in spec.windows:
            for w in cal.resolve(window, start, end):
                rows.append({
                    "code": spec.code,
                    "name": spec.name,
                    "label": w.label,
                    "start": w.start.isoformat(),
                    "end": w.end.isoformat(),
                })
    rows.sort(key=lambda r: (r["start"], _code_key(r["code"]), r["end"], r["label"]))
    return rows


# --- loading helpers -------------------------------------------------------------------


def _load_year(path: Path) -> AcademicYear:
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
    off = {d: h.name for h in cf.holidays for d in _days(h.start, h.end)}
    for i, w in enumerate(cf.workdays):
        if w.date in off:
            out.append((f"workdays[{i}].date",
                        f"{w.date} 同时被列为节假日“{off[w.date]}” (also a holiday)"))
    return out


def _check_year(year: AcademicYear) -> list[str]:
    """Warnings within one school year's file."""
    out: list[str] = []
    src = year.source or year.name
    for sem in year.semesters:
        if sem.end > year.end:
            out.append(f"{src}: {sem.title}的 {sem.weeks} 周延伸到 {sem.end}，超出学年结束日 {year.end}")
        for v in year.vacations:
            if v.start <= sem.end and v.end >= sem.start:
                out.append(f"{src}: {v.name}（{v.start} 至 {v.end}）与{sem.title}的教学周重叠")
    numbers = [s.number for s in sorted(year.semesters, key=lambda s: s.first_monday)]
    if numbers != sorted(numbers):
        out.append(f"{src}: 第二学期排在第一学期之前 (semester 2 starts before semester 1)")
    for i, w in enumerate(year.workdays):
        if w.date.weekday() < 5:
            out.append(f"{src}: workdays[{i}]: {w.date} 是星期{_WEEKDAYS[w.date.weekday()]}，本来就是工作日")
        if w.source == "national" and _cc_knows(w.date.year) and not chinese_calendar.is_workday(w.date):
            out.append(f"{src}: workdays[{i}]: chinese-calendar 认为 {w.date} 不是工作日（与 national 不一致）")
    for i, h in enumerate(year.holidays):
        if h.source == "national" and _cc_knows(h.start.year):
            clash = next((d for d in _days(h.start, h.end) if chinese_calendar.is_workday(d)), None)
            if clash:
                out.append(f"{src}: holidays[{i}] {h.name}: chinese-calendar 认为 {clash} 是工作日（与 national 不一致）")
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


def _days(start: dt.date, end: dt.date) -> Iterator[dt.date]:
    d = start
    while d <= end:
        yield d
        d += dt.timedelta(days=1)


def _month_len(year: int, month: int) -> int:
    return _stdcal.monthrange(year, month)[1]


def _mmdd(year: int, mmdd: str) -> dt.date:
    """MM-DD in ``year``; 02-29 becomes 02-28 in a common year."""
    m, d = int(mmdd[:2]), int(mmdd[3:])
    return dt.date(year, m, min(d, _month_len(year, m)))


def _as_day(d: dt.date | dt.datetime) -> dt.date:
    return d.date() if isinstance(d, dt.datetime) else d


def _code_key(code: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in code.split("."))
    except ValueError:
        return (10**6,)


# --- default calendar and CLI helpers --------------------------------------------------


def default_calendar_path() -> Path:
    """``CAMPUSBOT_CALENDAR_FILE`` (a file or a folder of them), else the shipped 2026-2027 校历.

    Raises bot.config.ConfigError when the environment is invalid.
    """
    from bot.config import load_settings

    return load_settings().calendar_file or DEFAULT_CALENDAR_FILE


def load_calendar(path: Path | str | None = None) -> SchoolCalendar:
    """The 校历 at ``path`` (file or folder), or the configured/default one."""
    return SchoolCalendar.load(Path(path) if path is not None else default_calendar_path())


@lru_cache(maxsize=1)
def default_calendar() -> SchoolCalendar:
    """The configured 校历, loaded once (``default_calendar.cache_clear()`` to reload)."""
    return load_calendar()


def _load_or_report(path: Path | None) -> SchoolCalendar | None:
    """The 校历, or None after printing every problem with it."""
    try:
        return load_calendar(path)
    except CalendarError as exc:
        click.echo("校历无效 (invalid calendar):", err=True)
        for line in exc.problems:
            click.echo(f"  {line}", err=True)
        return None


def calendar_check_command(path: Path | None) -> int:
    """``campusbot calendar check``: 0 when the 校历 loads (warnings are printed), 1 when invalid."""
    cal = _load_or_report(path)
    if cal is None:
        return 1
    for sem in cal.semesters:
        exams = f"，考试周第 {'、'.join(map(str, sem.exam_weeks))} 周" if sem.exam_weeks else ""
        click.echo(f"{sem.title}: {sem.start} 至 {sem.end}，共 {sem.weeks} 周{exams}")
    click.echo(f"节假日 {len(cal.holidays)} 天，调休上班 {len(cal.makeup_workdays)} 天")
    warnings = cal.check()
    for w in warnings:
        click.echo(f"警告: {w}")
    click.echo(f"校历有效 (OK)，{len(warnings)} 条警告" if warnings else "校历有效 (OK)")
    return 0


def calendar_windows_command(
    date_from: dt.date | str | None,
    date_to: dt.date | str | None,
    as_json: bool,
    path: Path | None,
    *,
    specs: Mapping[str, "WorkflowSpec"] | None = None,
) -> int:
    """``campusbot calendar windows``: spec windows overlapping the dates; 0 ok, 1 invalid input.

    ``date_from`` defaults to today, ``date_to`` to 30 days later; ``specs`` to every spec.
    """
    try:
        start = _parse_day(date_from) or dt.date.today()
        end = _parse_day(date_to) or start + dt.timedelta(days=DEFAULT_SPAN_DAYS)
    except ValueError as exc:
        click.echo(str(exc), err=True)
        return 1
    if end < start:
        click.echo(f"--to {end} 早于 --from {start}", err=True)
        return 1
    cal = _load_or_report(path)
    if cal is None:
        return 1
    if specs is None:
        from workflow.registry import SpecError, default_specs

        try:
            specs = default_specs()
        except SpecError as exc:
            click.echo(f"流程定义无效 (invalid specs):\n{exc}", err=True)
            return 1
    rows = windows_between(specs, cal, start, end)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    click.echo(f"{start} 至 {end} 的工作窗口：{len(rows)} 个")
    for r in rows:
        label = f"  {r['label']}" if r["label"] else ""
        click.echo(f"{r['start']} ~ {r['end']}  {r['code']:<5} {r['name']}{label}")
    return 0


def _parse_day(v: dt.date | dt.datetime | str | None) -> dt.date | None:
    if v is None or v == "":
        return None
    if isinstance(v, (dt.date, dt.datetime)):
        return _as_day(v)
    try:
        return dt.date.fromisoformat(str(v).strip())
    except ValueError:
        raise ValueError(f"日期应写成 YYYY-MM-DD，而不是 {v!r}") from None
