"""A 课表 file read through handlers/sheets.py's limits, then row by row (``workflow/timetable/rows.py``).

Here, not in ``bot.timetable_store``, because reading an uploaded sheet is a handler's concern and the
runtime may not import handlers; the store only matches teachers and writes rows.
"""
from __future__ import annotations

from pathlib import Path

from handlers.sheets import TableRefused, read_table
from workflow.timetable import Meeting, RowProblem, read_meetings
from workflow.timetable.rows import SheetLayoutError


class TimetableFileError(Exception):
    """The file as a whole cannot be read; ``code`` and ``values`` for messages/timetable/problems.j2."""

    def __init__(self, code: str, values: dict | None = None):
        super().__init__(code)
        self.code = code
        self.values = values or {}


def read_file(path: Path) -> tuple[list[Meeting], list[RowProblem]]:
    """.xlsx, .xls or .csv (UTF-8 or GBK) through handlers/sheets.py's limits, then row by row."""
    if path.suffix.lower() not in (".xlsx", ".xls", ".csv"):
        raise TimetableFileError("bad_suffix", {"suffix": path.suffix or "无扩展名"})
    try:
        table = read_table(path)
    except TableRefused as exc:
        raise TimetableFileError("sheet_refused", {"problem": exc.problem}) from None
    try:
        return read_meetings(table)
    except SheetLayoutError as exc:
        raise TimetableFileError(exc.code, {"missing": exc.missing}) from None
