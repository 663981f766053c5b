"""Spreadsheet checks for upload steps: required columns, row by row."""
from __future__ import annotations

import csv
from pathlib import Path


def read_table(path: str) -> list[list[str]]:
    p = Path(path)
    if p.suffix.lower() == ".csv":
        raw = p.read_bytes()
        for enc in ("utf-8-sig", "gb18030"):
            try:
                return list(csv.reader(raw.decode(enc).splitlines()))
            except UnicodeDecodeError:
                continue
        raise ValueError("无法识别编码")
    from openpyxl import load_workbook

    wb = load_workbook(p, read_only=True, data_only=True)
    try:
        ws = wb.active
        return [["" if c is None else str(c).strip() for c in row] for row in ws.iter_rows(values_only=True)]
    finally:
        wb.close()


def check_columns(path: str, columns: list[str]) -> list[str]:
    """Problems a secretary can act on: the missing columns, then each row's empty cells."""
    try:
        table = read_table(path)
    except Exception:
        return ["无法读取表格，请确认是 Excel（.xlsx）文件且未加密"]
    if not table:
        return ["表格是空的"]
    header = [h.strip() for h in table[0]]
    missing = [c for c in columns if c not in header]
    if missing:
        return [f"缺少列：{'、'.join(missing)}（第 1 行应包含：{'、'.join(columns)}）"]
    idx = {c: header.index(c) for c in columns}
    problems = []
    rows = [r for r in table[1:] if any(cell.strip() for cell in r)]
    if not rows:
        return ["表格只有表头，没有数据行"]
    for n, row in enumerate(table[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        empty = [c for c, i in idx.items() if i >= len(row) or not row[i].strip()]
        if empty:
            problems.append(f"第 {n} 行：{'、'.join(empty)} 为空")
        if len(problems) >= 20:
            problems.append("……（只列出前 20 处）")
            break
    return problems
