"""The 校历 in memory: semesters with their teaching weeks, vacations, one school year per file."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from workflow.calendar.calendar_file import HolidayEntry, WorkdayEntry


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
