"""Bytes tests upload: a minimal PNG and JPEG, and spreadsheets with the handbook's columns."""
from __future__ import annotations

import csv
import io

import xlwt
from openpyxl import Workbook

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64

ABNORMAL = ["学号", "姓名", "班级", "异常类型", "说明"]
WORKLOAD = ["工号", "姓名", "课程", "班级", "课时"]
ATTENDANCE = ["工号", "姓名", "请假课时", "晚自习课时", "选修课课时"]
MAKEUP = ["学号", "姓名", "班级", "系部", "科目"]
EVALUATION = ["参评班级", "完成比率"]


def xlsx(header: list[str], *rows: list) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append(header)
    for row in rows:
        ws.append(list(row))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def xls(header: list[str], *rows: list) -> bytes:
    """An old-format (BIFF/OLE2) workbook, as WPS and older Excel save it."""
    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet("Sheet1")
    for r, row in enumerate([header, *rows]):
        for c, value in enumerate(row):
            sheet.write(r, c, value)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def csv_bytes(header: list[str], *rows: list, encoding: str = "gbk") -> bytes:
    """A CSV as Excel saves it on a Chinese Windows (GBK) or elsewhere (UTF-8)."""
    buf = io.StringIO()
    csv.writer(buf).writerows([header, *rows])
    return buf.getvalue().encode(encoding)
