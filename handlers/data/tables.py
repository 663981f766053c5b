"""The spreadsheets data steps exchange with 教务处: rows by column, numbers, xlsx out.

Problems are :class:`~handlers.problems.Problem` s whose sentences are macros in
``messages/data/problems.j2`` (cell checks) and ``messages/upload/problems.j2``
(columns, empty cells), so a secretary reads the same wording on the upload page
and in chat.
"""
from __future__ import annotations

import re
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Font

from handlers.data.inert import append_text_row
from handlers.problems import DATA_PROBLEMS, Problem
from handlers.sheets import MAX_PROBLEMS, Table, check_columns, read_table
_NUMBER = re.compile(r"^\d+(\.\d+)?$")


def problem(code: str, **values) -> Problem:
    """A problem whose sentence is the macro ``code`` in messages/data/problems.j2."""
    return Problem(code, values, DATA_PROBLEMS)


def read_records(path: str, columns: list[str] | tuple[str, ...]) -> list[dict]:
    """A checked file's records; blocking (run it with ``off_loop``)."""
    return records(read_table(path), columns)


def records(table: Table, columns: list[str] | tuple[str, ...]) -> list[dict]:
    """Non-empty rows as ``{column: text}`` with ``_row``, the spreadsheet row number."""
    if not table:
        return []
    header = [h.strip() for h in table[0]]
    idx = {c: header.index(c) for c in columns if c in header}
    out = []
    for n, row in enumerate(table[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        rec: dict = {c: (row[i].strip() if i < len(row) else "") for c, i in idx.items()}
        rec["_row"] = n
        out.append(rec)
    return out


def parse_number(text: str) -> float | None:
    """课时 and the like: a plain non-negative number (Excel may write 32 as 32.0)."""
    t = text.strip()
    return float(t) if _NUMBER.match(t) else None


def parse_percent(text: str) -> float | None:
    """完成比率 as a percentage 0–100: "95%", "95", or Excel's 0.95 for a %-formatted cell."""
    t = text.strip().replace("％", "%")
    pct = t.endswith("%")
    value = parse_number(t.rstrip("%").strip())
    if value is None:
        return None
    if not pct and value <= 1:
        value *= 100
    return value if 0 <= value <= 100 else None


def fmt_number(value: float) -> str:
    return f"{value:g}"


def check_table(table: Table | None, columns: list[str] | tuple[str, ...], *, numbers: tuple[str, ...] = (),
                percents: tuple[str, ...] = (), allow_empty: bool = False,
                optional: list[str] | tuple[str, ...] = ()) -> list[Problem]:
    """Type, required columns, empty cells (row numbers), then number and percentage cells.

    ``table`` is None when the file is not a spreadsheet. ``allow_empty``: a sheet
    with only its header row passes (nothing to report). ``optional`` columns may be
    blank or missing; where filled, their numbers and percentages are checked too.
    """
    if table is None:
        return [problem("not_table")]
    problems = check_columns(table, list(columns), allow_empty=allow_empty)
    if problems:
        return problems
    for rec in records(table, list(columns) + list(optional)):
        for col in numbers:
            if rec.get(col) and parse_number(rec[col]) is None:
                problems.append(problem("not_number", row=rec["_row"], column=col, value=rec[col]))
        for col in percents:
            if rec.get(col) and parse_percent(rec[col]) is None:
                problems.append(problem("not_percent", row=rec["_row"], column=col, value=rec[col]))
        if len(problems) >= MAX_PROBLEMS:
            problems.append(problem("more", limit=MAX_PROBLEMS))
            break
    return problems


def write_xlsx(path: Path, header: list[str], rows: list[list]) -> None:
    """Every cell as inert text (see handlers/data/inert.py). Blocking: run it with ``off_loop``."""
    wb = Workbook()
    ws = wb.active
    append_text_row(ws, header)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in rows:
        append_text_row(ws, row)
    for i, name in enumerate(header):
        width = max([len(str(name))] + [len(str(r[i])) for r in rows if i < len(r)]) * 2 + 2
        ws.column_dimensions[ws.cell(row=1, column=i + 1).column_letter].width = min(width, 60)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
