"""The few things the date reader needs from the 校历, behind one small class.

Every call into ``workflow.calendar`` is here, so a change there is one file to re-point:
``SchoolCalendar.is_workday``, ``.holidays`` (date → name), ``.teaching_week``,
``.semesters`` (first_monday, weeks, end, name), ``.vacations`` and ``.span``.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from workflow.calendar.school import SchoolCalendar

# Without a term to go by (the 校历 does not cover today), dates up to this far ahead are accepted.
FALLBACK_HORIZON_DAYS = 180


@dataclass(frozen=True)
class Term:
    """The term a date is read against: 第N周 counts from its first Monday."""

    name: str
    first_monday: date
    weeks: int

    @property
    def end(self) -> date:
        return self.first_monday + timedelta(days=7 * self.weeks - 1)

    def week_monday(self, week: int) -> date | None:
        if not 1 <= week <= self.weeks:
            return None
        return self.first_monday + timedelta(weeks=week - 1)


class SchoolDays:
    """Working days, holidays, teaching weeks and the current term from the 校历."""

    def __init__(self, calendar: SchoolCalendar):
        self.calendar = calendar

    def is_working_day(self, day: date) -> bool:
        return self.calendar.is_workday(day)

    def holiday_name(self, day: date) -> str | None:
        """The 校历's name for a day off (元旦, 国庆节…), None on a plain weekend or working day."""
        return self.calendar.holidays.get(day)

    def teaching_week(self, day: date) -> int | None:
        found = self.calendar.teaching_week(day)
        return found[1] if found else None

    def vacation_name(self, day: date) -> str | None:
        for vacation in self.calendar.vacations:
            if vacation.start <= day <= vacation.end:
                return vacation.name
        return None

    def term_of(self, today: date) -> Term | None:
        """The term running today, else the next one to start."""
        upcoming = [s for s in self.calendar.semesters if s.end >= today]
        if not upcoming:
            return None
        s = min(upcoming, key=lambda sem: sem.first_monday)
        return Term(name=s.name, first_monday=s.first_monday, weeks=s.weeks)

    def horizon(self, today: date) -> date:
        """The last day a date may be: the day before the term after this one starts."""
        term = self.term_of(today)
        if term is None:
            return today + timedelta(days=FALLBACK_HORIZON_DAYS)
        later = [s.first_monday for s in self.calendar.semesters if s.first_monday > term.end]
        if later:
            return min(later) - timedelta(days=1)
        return max(term.end, self.calendar.span[1])
