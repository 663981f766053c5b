"""When people may be messaged: working hours, local time, on 校历 working days."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.config import Settings
from workflow.calendar import DEFAULT_CALENDAR_FILE, SchoolCalendar, load_calendar


@dataclass(frozen=True)
class WorkingTime:
    """When people may be messaged: working hours, local time, on 校历 working days."""

    cal: SchoolCalendar
    start: time
    end: time
    tz: ZoneInfo

    @classmethod
    def from_settings(cls, settings: Settings, cal: SchoolCalendar) -> "WorkingTime":
        a, b = (time.fromisoformat(t.strip().zfill(5)) for t in settings.work_hours.split("-"))
        if a >= b:
            raise ValueError(f"CAMPUSBOT_WORK_HOURS: {settings.work_hours} 的开始时间应早于结束时间")
        return cls(cal, a, b, ZoneInfo(settings.timezone))

    def local(self, utc: datetime) -> datetime:
        """Naive UTC → naive local time."""
        return utc.replace(tzinfo=timezone.utc).astimezone(self.tz).replace(tzinfo=None)

    def utc(self, local: datetime) -> datetime:
        """Naive local time → naive UTC."""
        return local.replace(tzinfo=self.tz).astimezone(timezone.utc).replace(tzinfo=None)

    def today(self, utc: datetime) -> date:
        return self.local(utc).date()

    def contains(self, utc: datetime) -> bool:
        loc = self.local(utc)
        return self.cal.is_workday(loc.date()) and self.start <= loc.time() < self.end

    def slot(self, day: date) -> datetime:
        """The start of working hours on ``day``, or on the first working day after it (UTC)."""
        while not self.cal.is_workday(day):
            day += timedelta(days=1)
        return self.utc(datetime.combine(day, self.start))

    def next_slot(self, utc: datetime) -> datetime:
        """``utc`` itself inside working time, else the next start of working hours."""
        if self.contains(utc):
            return utc
        loc = self.local(utc)
        if self.cal.is_workday(loc.date()) and loc.time() < self.start:
            return self.slot(loc.date())
        return self.slot(loc.date() + timedelta(days=1))

    def week_of(self, utc: datetime) -> tuple[date, date]:
        """Monday and Sunday of the local week."""
        monday = self.today(utc) - timedelta(days=self.today(utc).weekday())
        return monday, monday + timedelta(days=6)


@lru_cache(maxsize=8)
def _calendar_at(path: str) -> SchoolCalendar:
    return load_calendar(Path(path))


def calendar_for(settings: Settings) -> SchoolCalendar:
    """The 校历 named by these settings, else the shipped one (each file loaded once per process)."""
    return _calendar_at(str(settings.calendar_file or DEFAULT_CALENDAR_FILE))


def week_key(day: date) -> str:
    """ISO week, e.g. 2026-W37: the digest's key."""
    y, w, _ = day.isocalendar()
    return f"{y}-W{w:02d}"
