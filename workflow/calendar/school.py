"""The school calendar: working days and teaching weeks of one or more loaded 校历 files.

Working days come from the school's file first (its holidays and 调休 make-up days),
then chinese-calendar, then plain Monday–Friday for years neither knows: the bot must
not remind anyone on a holiday just because the State Council has not published it yet.
It satisfies ``workflow.windows.TeachingCalendar``, so every spec window resolves on it.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import chinese_calendar

from workflow.calendar.calendar_file import WEEKDAYS, CalendarError, days, load_year
from workflow.calendar.terms import AcademicYear, Semester, Vacation
from workflow.windows import ConcreteWindow, Window, resolve

CALENDAR_DIR = Path(__file__).parent.parent / "calendars"
DEFAULT_CALENDAR_FILE = CALENDAR_DIR / "2026-2027.yaml"


@lru_cache(maxsize=None)
def cc_knows(year: int) -> bool:
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
        self.makeup_follows: dict[dt.date, int] = {}  # a 调休 day → the weekday whose classes it holds
        for y in self.years:
            for h in y.holidays:
                for day in days(h.start, h.end):
                    self.holidays[day] = h.name
            for w in y.workdays:
                self.makeup_workdays[w.date] = w.name
                if w.follows:
                    self.makeup_follows[w.date] = w.follows

    # loading

    @classmethod
    def load(cls, path: Path | str) -> "SchoolCalendar":
        """A 校历 file, or every ``*.yaml`` in a folder; raises CalendarError naming each bad field."""
        path = Path(path)
        if path.is_dir():
            return cls.load_dir(path)
        return cls([load_year(path)])

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
                year = load_year(path)
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
            if not cc_knows(year_no) and not any(d.year == year_no for d in self.holidays):
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

    def classes_weekday(self, d: dt.date) -> int | None:
        """Whose 课表 day is held on ``d`` (1 = Monday .. 7): a 调休 day follows the weekday its entry
        names (none named: no classes); a holiday, or a weekday that is not a working day, has none."""
        d = _as_day(d)
        if d in self.makeup_workdays:
            return self.makeup_follows.get(d)
        if d in self.holidays or (d.weekday() < 5 and not self.is_workday(d)):
            return None
        return d.isoweekday()

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

    def resolve(self, window: Window, start: dt.date, end: dt.date) -> list[ConcreteWindow]:
        """The window's concrete dates that overlap ``start``..``end`` (whole, not clipped)."""
        return resolve(window, self, _as_day(start), _as_day(end))


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
            out.append(f"{src}: workdays[{i}]: {w.date} 是星期{WEEKDAYS[w.date.weekday()]}，本来就是工作日")
        if w.source == "national" and cc_knows(w.date.year) and not chinese_calendar.is_workday(w.date):
            out.append(f"{src}: workdays[{i}]: chinese-calendar 认为 {w.date} 不是工作日（与 national 不一致）")
    for i, h in enumerate(year.holidays):
        if h.source == "national" and cc_knows(h.start.year):
            clash = next((d for d in days(h.start, h.end) if chinese_calendar.is_workday(d)), None)
            if clash:
                out.append(f"{src}: holidays[{i}] {h.name}: chinese-calendar 认为 {clash} 是工作日（与 national 不一致）")
    return out


def load_calendar(path: Path | str) -> SchoolCalendar:
    """The 校历 at ``path``: a file, or a folder of them."""
    return SchoolCalendar.load(path)


def _as_day(d: dt.date | dt.datetime) -> dt.date:
    return d.date() if isinstance(d, dt.datetime) else d
