"""Spreadsheet checks for upload steps: required columns, row by row.

Problems are :class:`~handlers.problems.Problem` s; their sentences are in
``messages/upload/problems.j2``.
"""
from __future__ import annotations

import csv
from pathlib import Path

from handlers.problems import Problem

MAX_PROBLEMS = 20


def read_table(path: str) -> list[list[str]]:
    p = Path(path)
    if p.suffix.lower() == ".csv":
        raw = p.read_bytes()
        for enc in ("utf-8-sig", "gb18030"):
            try:
                return list(csv.reader(raw.decode(enc).splitlines()))
            except UnicodeDecodeError:
                continue
        raise ValueError(f"{p.name}: neither UTF-8 nor GB18030")
    from openpyxl import load_workbook

    wb = load_workbook(p, read_only=True, data_only=True)
    try:
        ws = wb.active
        return [["" if c is None else str(c).strip() for c in row] for row in ws.iter_rows(values_only=True)]
    finally:
        wb.close()


def check_columns(path: str, columns: list[str], *, allow_empty: bool = False) -> list[Problem]:
    """Problems a secretary can act on: the missing columns, then each row's empty cells.

    ``allow_empty``: a sheet with only its header row is fine (it means "nothing to report").
    """
    try:
        table = read_table(path)
    except Exception:
        return [Problem("unreadable")]
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
