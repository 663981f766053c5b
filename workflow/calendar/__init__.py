"""The 校历: its file format (``calendar_file``), its in-memory school years (``terms``) and
the school calendar with working days and teaching weeks (``school``)."""
from workflow.calendar.calendar_file import CalendarError
from workflow.calendar.school import DEFAULT_CALENDAR_FILE, SchoolCalendar, load_calendar

__all__ = ["DEFAULT_CALENDAR_FILE", "CalendarError", "SchoolCalendar", "load_calendar"]
