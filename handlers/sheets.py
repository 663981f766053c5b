"""Spreadsheets people upload: read once, streamed, within limits; then checked.

``read_table`` is blocking work: callers run it off the event loop (see
``handlers/offload.py``). It reads an xlsx in openpyxl's read-only mode, row by
row, and stops at the first limit it passes, so a 300,000-row sheet costs the
reading of 20,001 rows, not all of them. Problems are
:class:`~handlers.problems.Problem` s; their sentences are in
``messages/upload/problems.j2``.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path

from openpyxl import load_workbook
from python_calamine import CalamineWorkbook

from bot.text_files import decode_office_text
from handlers.problems import Problem
from handlers.sniff import zip_problem

MAX_PROBLEMS = 20
MAX_ROWS = 20_000
MAX_COLUMNS = 200
MAX_CELLS = 400_000
MAX_CELL_CHARS = 10_000
MAX_CSV_BYTES = 20 * 1024 * 1024

Table = list[list[str]]


class TableRefused(Exception):
    """The sheet passed a limit (or cannot be read); ``problem`` says which, for the person."""

    def __init__(self, problem: Problem):
        super().__init__(problem.code)
        self.problem = problem


def _over(limit: str, value: int) -> TableRefused:
    return TableRefused(Problem("too_large_table", {"what": limit, "limit": value}))


class _Bounded:
    """Counts rows and cells as they are read and stops at the first limit."""

    def __init__(self) -> None:
        self.rows: Table = []
        self.cells = 0

    def add(self, values) -> None:
        row = ["" if v is None else str(v).strip() for v in values]
        while row and not row[-1]:
            row.pop()
        if len(row) > MAX_COLUMNS:
            raise _over("columns", MAX_COLUMNS)
        if len(self.rows) >= MAX_ROWS + 1:  # the header plus MAX_ROWS data rows
            if row:
                raise _over("rows", MAX_ROWS)
            return
        if any(len(c) > MAX_CELL_CHARS for c in row):
            raise _over("cell_chars", MAX_CELL_CHARS)
        self.cells += len(row)
        if self.cells > MAX_CELLS:
            raise _over("cells", MAX_CELLS)
        self.rows.append(row)

    def table(self) -> Table:
        while self.rows and not self.rows[-1]:
            self.rows.pop()
        return self.rows


def read_table(path: str | Path) -> Table:
    """The first sheet's rows as text (trailing empty cells and rows dropped).

    Raises :class:`TableRefused` naming the limit passed, or ``unreadable``.
    """
    p = Path(path)
    if p.suffix.lower() == ".csv":
        return _read_csv(p)
    if p.suffix.lower() == ".xls":
        return _read_xls(p)
    bomb = zip_problem(p)
    if bomb is not None:
        raise TableRefused(bomb)
    out = _Bounded()
    try:
        wb = load_workbook(p, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - any damage in the file means "cannot read it"
        raise TableRefused(Problem("unreadable")) from exc
    try:
        ws = wb.worksheets[0] if wb.worksheets else None
        if ws is None:
            return []
        ws.reset_dimensions()  # a declared A1:XFD1048576 would pad every row to 16,384 cells
        for values in ws.iter_rows(values_only=True):
            out.add(values)
    except TableRefused:
        raise
    except Exception as exc:  # noqa: BLE001
        raise TableRefused(Problem("unreadable")) from exc
    finally:
        wb.close()
    return out.table()


def _read_csv(p: Path) -> Table:
    if p.stat().st_size > MAX_CSV_BYTES:
        raise _over("bytes", MAX_CSV_BYTES)
    text = decode_office_text(p.read_bytes())
    if text is None:
        raise TableRefused(Problem("unreadable_csv"))
    out = _Bounded()
    try:
        for values in csv.reader(io.StringIO(text, newline="")):
            out.add(values)
    except csv.Error as exc:
        raise TableRefused(Problem("unreadable_csv")) from exc
    return out.table()


def _read_xls(p: Path) -> Table:
    """An old-format (OLE2) workbook through python-calamine, within the same limits."""
    if p.stat().st_size > MAX_CSV_BYTES:
        raise _over("bytes", MAX_CSV_BYTES)
    out = _Bounded()
    try:
        wb = CalamineWorkbook.from_path(str(p))
        if not wb.sheet_names:
            return []
        for values in wb.get_sheet_by_index(0).iter_rows():
            out.add(_xls_cell(v) for v in values)
    except TableRefused:
        raise
    except Exception as exc:  # noqa: BLE001 - any damage in the file means "cannot read it"
        raise TableRefused(Problem("unreadable")) from exc
    return out.table()


def _xls_cell(value):
    """calamine gives numbers as floats: 3.0 is the 3 the person typed."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def check_columns(table: Table, columns: list[str], *, allow_empty: bool = False) -> list[Problem]:
    """Problems a secretary can act on: the missing columns, then each row's empty cells.

    ``allow_empty``: a sheet with only its header row is fine (it means "nothing to report").
    """
    if not table:
        return [Problem("empty_table")]
    header = [h.strip() for h in table[0]]
    missing = [c for c in columns if c not in header]
    if missing:
        return [Problem("missing_columns", {"missing": missing, "columns": list(columns)})]
    idx = {c: header.index(c) for c in columns}
    problems: list[Problem] = []
    rows = [r for r in table[1:] if any(cell.strip() for cell in r)]
    if not rows:
        return [] if allow_empty else [Problem("header_only")]
    for n, row in enumerate(table[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        empty = [c for c, i in idx.items() if i >= len(row) or not row[i].strip()]
        if empty:
            problems.append(Problem("empty_cells", {"row": n, "columns": empty}))
        if len(problems) >= MAX_PROBLEMS:
            problems.append(Problem("more", {"limit": MAX_PROBLEMS}))
            break
    return problems
