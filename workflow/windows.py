"""Spec time windows: each kind is declared and resolved in one class.

A window resolves against a :class:`TeachingCalendar` — any 校历 that can tell its
school years, its semesters and its working days (``workflow.calendar.SchoolCalendar``
is the one the bot uses). A new kind is one class here with its ``spans`` and a place
in :data:`Window`; nothing else has to learn it. A teaching week runs Monday..Sunday.

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
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Annotated, Literal, Protocol, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator

SEASON_WEEKS = 12  # 春季/秋季 = the first 12 teaching weeks of the semester
Season = Literal["春季", "秋季"]
_MMDD = re.compile(r"^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")

Span = tuple[str, dt.date, dt.date]  # (label, first day, last day)


# --- what a window needs from a 校历 ------------------------------------------------------


class Term(Protocol):
    """One semester's teaching weeks."""

    number: int  # 1 = 第一学期 (autumn), 2 = 第二学期 (spring)
    name: str
    first_monday: dt.date
    weeks: int

    @property
    def end(self) -> dt.date: ...

    def week_start(self, week: int) -> dt.date: ...

    def week_end(self, week: int) -> dt.date: ...


class SchoolYear(Protocol):
    start: dt.date
    end: dt.date

    @property
    def start_year(self) -> int: ...

    @property
    def semesters(self) -> Sequence[Term]: ...


class TeachingCalendar(Protocol):
    """The 校历 as window resolution sees it: school years, semesters, working days."""

    @property
    def years(self) -> Sequence[SchoolYear]: ...

    @property
    def semesters(self) -> Sequence[Term]: ...

    def workdays_before(self, d: dt.date, n: int) -> dt.date: ...


@dataclass(frozen=True)
class ConcreteWindow:
    label: str
    start: dt.date
    end: dt.date  # inclusive
    opens_remind_on: dt.date  # lead_days working days before start (always a working day)


# --- the kinds ------------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DateRange(_Strict):
    label: str = ""
    start: str  # MM-DD
    end: str  # MM-DD (may be earlier than start: the range crosses new year)

    @field_validator("start", "end")
    @classmethod
    def _mmdd(cls, v: str) -> str:
        if not _MMDD.match(v):
            raise ValueError(f"日期应写成 MM-DD，例如 09-01，而不是 {v!r}")
        return v


class _WindowBase(_Strict):
    label: str = ""  # shown in reminders, 本周 and 日程
    note: str | None = None  # why the window was chosen where the handbook is silent; never shown to users
    lead_days: int = Field(default=3, ge=0, le=30)  # remind this many working days before it opens
    auto_start: bool = False  # start the run by itself when the window opens

    def spans(self, cal: TeachingCalendar, start: dt.date, end: dt.date) -> Iterator[Span]:
        """Candidate spans near start..end; :func:`resolve` keeps those overlapping it."""
        raise NotImplementedError


class FixedWindow(_WindowBase):
    kind: Literal["fixed"]
    ranges: list[DateRange] = Field(min_length=1)

    def spans(self, cal: TeachingCalendar, start: dt.date, end: dt.date) -> Iterator[Span]:
        for y in range(start.year - 1, end.year + 1):  # -1: ranges that began last year
            for r in self.ranges:
                e = _mmdd(y if r.end >= r.start else y + 1, r.end)
                yield r.label or self.label or f"{y}年", _mmdd(y, r.start), e


class TeachingWeeksWindow(_WindowBase):
    kind: Literal["teaching_weeks"]
    semesters: list[Literal[1, 2]] = [1, 2]  # 1 = 第一学期 (autumn), 2 = 第二学期 (spring)
    weeks: tuple[int, int]  # inclusive teaching-week numbers
    # Counted from the end of the semester instead (期末 = the last weeks).
    from_end: bool = False

    def spans(self, cal: TeachingCalendar, start: dt.date, end: dt.date) -> Iterator[Span]:
        lo, hi = sorted(self.weeks)
        for sem in _terms(cal, self.semesters):
            a, b = (sem.weeks - hi + 1, sem.weeks - lo + 1) if self.from_end else (lo, hi)
            a, b = max(a, 1), min(b, sem.weeks)
            if a <= b:
                weeks = f"第{a}周" if a == b else f"第{a}-{b}周"
                yield self.label or f"{sem.name}{weeks}", sem.week_start(a), sem.week_end(b)


class EveryNWeeksWindow(_WindowBase):
    kind: Literal["every_n_weeks"]
    every: int = Field(ge=1, le=26)
    semesters: list[Literal[1, 2]] = [1, 2]
    length_days: int = Field(default=5, ge=1)

    def spans(self, cal: TeachingCalendar, start: dt.date, end: dt.date) -> Iterator[Span]:
        for sem in _terms(cal, self.semesters):
            for w in range(1, sem.weeks + 1, self.every):
                s = sem.week_start(w)
                yield self.label or f"{sem.name}第{w}周", s, min(s + dt.timedelta(days=self.length_days - 1), sem.end)


class MonthlyWindow(_WindowBase):
    kind: Literal["monthly"]
    day_from: int = Field(default=1, ge=1, le=28)
    day_to: int = Field(default=28, ge=1, le=31)
    months: list[int] | None = None  # None = every month of the school year

    def spans(self, cal: TeachingCalendar, start: dt.date, end: dt.date) -> Iterator[Span]:
        for y, m in _school_months(cal, self.months):
            if self.day_to >= self.day_from:
                e = dt.date(y, m, min(self.day_to, _month_len(y, m)))
            else:  # e.g. 25..05: runs into the next month
                ny, nm = (y + 1, 1) if m == 12 else (y, m + 1)
                e = dt.date(ny, nm, min(self.day_to, _month_len(ny, nm)))
            yield self.label or f"{y}年{m}月", dt.date(y, m, self.day_from), e


class MonthsWindow(_WindowBase):
    kind: Literal["months"]
    from_month: int = Field(ge=1, le=12)
    to_month: int = Field(ge=1, le=12)
    every_years: int = Field(default=1, ge=1, le=5)
    first_year: int | None = None  # with every_years > 1: a year the cycle runs in

    def spans(self, cal: TeachingCalendar, start: dt.date, end: dt.date) -> Iterator[Span]:
        anchor = self.first_year or (cal.years[0].start_year if cal.years else start.year)
        for y in range(start.year - 1, end.year + 1):
            if (y - anchor) % self.every_years:
                continue
            ey = y if self.to_month >= self.from_month else y + 1
            if self.from_month == self.to_month:
                default = f"{y}年{self.from_month}月"
            elif ey == y:
                default = f"{y}年{self.from_month}-{self.to_month}月"
            else:
                default = f"{y}年{self.from_month}月至{ey}年{self.to_month}月"
            last = dt.date(ey, self.to_month, _month_len(ey, self.to_month))
            yield self.label or default, dt.date(y, self.from_month, 1), last


class SeasonsWindow(_WindowBase):
    kind: Literal["seasons"]
    seasons: list[Season] = Field(min_length=1)

    def spans(self, cal: TeachingCalendar, start: dt.date, end: dt.date) -> Iterator[Span]:
        for sem in cal.semesters:
            season = "春季" if sem.first_monday.month <= 7 else "秋季"
            if season in self.seasons:
                last = min(SEASON_WEEKS, sem.weeks)
                yield self.label or f"{sem.first_monday.year}年{season}", sem.first_monday, sem.week_end(last)


class SemesterPhaseWindow(_WindowBase):
    """开学 / 期末: the first or the last teaching weeks of each semester."""

    kind: Literal["semester_phase"]
    phase: Literal["开学", "期末"]
    semesters: list[Literal[1, 2]] = [1, 2]
    weeks: int = Field(default=2, ge=1, le=6)

    def spans(self, cal: TeachingCalendar, start: dt.date, end: dt.date) -> Iterator[Span]:
        for sem in _terms(cal, self.semesters):
            n = min(self.weeks, sem.weeks)
            a, b = (1, n) if self.phase == "开学" else (sem.weeks - n + 1, sem.weeks)
            yield self.label or f"{sem.name}{self.phase}", sem.week_start(a), sem.week_end(b)


class OnDemandWindow(_WindowBase):
    kind: Literal["on_demand"]

    def spans(self, cal: TeachingCalendar, start: dt.date, end: dt.date) -> Iterator[Span]:
        return iter(())


Window = Annotated[
    Union[
        FixedWindow, TeachingWeeksWindow, EveryNWeeksWindow, MonthlyWindow,
        MonthsWindow, SeasonsWindow, SemesterPhaseWindow, OnDemandWindow,
    ],
    Field(discriminator="kind"),
]


def resolve(window: Window, cal: TeachingCalendar, start: dt.date, end: dt.date) -> list[ConcreteWindow]:
    """The window's concrete dates that overlap ``start``..``end`` (whole, not clipped)."""
    if end < start:
        raise ValueError(f"结束日期 {end} 早于开始日期 {start}")
    found = {
        ConcreteWindow(label, s, e, cal.workdays_before(s, window.lead_days))
        for label, s, e in window.spans(cal, start, end)
        if s <= end and e >= start
    }
    return sorted(found, key=lambda w: (w.start, w.end, w.label))


# --- helpers --------------------------------------------------------------------------------


def _terms(cal: TeachingCalendar, numbers: Iterable[int]) -> list[Term]:
    wanted = set(numbers)
    return [s for s in cal.semesters if s.number in wanted]


def _school_months(cal: TeachingCalendar, months: list[int] | None) -> Iterator[tuple[int, int]]:
    """(year, month) of each school year: the listed months, or those with teaching weeks."""
    for year in cal.years:
        y, m = year.start.year, year.start.month
        while (y, m) <= (year.end.year, year.end.month):
            first, last = dt.date(y, m, 1), dt.date(y, m, _month_len(y, m))
            if months is not None:
                if m in months:
                    yield y, m
            elif any(s.first_monday <= last and s.end >= first for s in year.semesters):
                yield y, m
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)


def _month_len(year: int, month: int) -> int:
    return _stdcal.monthrange(year, month)[1]


def _mmdd(year: int, mmdd: str) -> dt.date:
    """MM-DD in ``year``; 02-29 becomes 02-28 in a common year."""
    m, d = int(mmdd[:2]), int(mmdd[3:])
    return dt.date(year, m, min(d, _month_len(year, m)))
