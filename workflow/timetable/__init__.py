"""The 课表: reading a flat timetable sheet into meetings (pure; no database, no chat)."""
from workflow.timetable.rows import COLUMNS, Meeting, RowProblem, read_meetings
from workflow.timetable.weeks import WeekSpecError, parse_periods, parse_weekday, parse_weeks

__all__ = ["COLUMNS", "Meeting", "RowProblem", "read_meetings", "WeekSpecError",
           "parse_periods", "parse_weekday", "parse_weeks"]
