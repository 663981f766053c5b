"""课表 in chat for 教务处: the card's link opens the upload page; a GBK .csv or an .xlsx is imported as
the CLI imports it (bad rows named, the term replaced with what changed); the report shows on the page and
arrives in chat; a teacher cannot use the page; the template downloads as an .xlsx with the columns."""
from __future__ import annotations

import io
import re

from aiohttp import FormData
from openpyxl import load_workbook

from tests.support.files import xlsx
from tests.support.harness import card_text, card_url, local_path, pin_today
from tests.support.flows import TODAY
from tests.support.people import OFFICE, TEACHER

COLUMNS = ["工号", "教师", "课程", "班级", "星期", "节次", "周次", "教室"]
TERM = "2026-2027-1"


def _csv(*rows: list[str]) -> bytes:
    return "\n".join(",".join(r) for r in [COLUMNS, *rows]).encode("gb18030")


async def _open_card(w) -> str:
    await w.say(OFFICE, "课表")
    card = w.last_card(OFFICE)
    assert re.search(rf"导入课表\s+本学期（{TERM}）现有课表 \d+ 条", card_text(card)), card
    return local_path(card_url(card))


async def _post(w, path: str, data: bytes, filename: str, term: str = TERM) -> tuple[int, str]:
    form = FormData()
    form.add_field("term", term)
    form.add_field("file", data, filename=filename, content_type="application/octet-stream")
    resp = await w.client.post(path, data=form)
    html = await resp.text()
    await w.core.settle()
    return resp.status, html


async def test_office_imports_a_gbk_csv_from_the_chat_link(wecom):
    w = wecom
    pin_today(w.core, TODAY)
    path = await _open_card(w)
    page = await w.client.get(path)
    html = await page.text()
    assert page.status == 200 and "导入课表" in html and f'<option value="{TERM}" selected>' in html
    before = w.mark()
    status, html = await _post(w, path, _csv(
        ["", "孙丽婷", "计算机网络基础", "计网2401", "周四", "3-4", "1-16周", "B202"],
        ["", "孙丽婷", "机械制图", "机电2401", "周一", "7-8", "1-16周", "A101"],
        ["", "查无此人", "高等数学", "计网2401", "周二", "1-2", "1-16周", "A201"],
        ["", "孙丽婷", "电工基础", "机电2401", "周八", "1-2", "1-16周", "A102"],
    ), "课表.csv")
    # The file would drop most of the demo term: nothing is written until the office confirms.
    assert status == 200 and "这次导入会删除原课表" in html and "导入完成" not in html
    assert not w.since(before, OFFICE)
    await w.say(TEACHER, "我的课表")
    assert "电子电工" not in w.last_text(TEACHER) and "机械制图" in w.last_text(TEACHER)
    token = re.search(r'name="token" value="([^"]+)"', html).group(1)
    form = FormData()
    form.add_field("term", TERM)
    form.add_field("token", token)
    resp = await w.client.post(path, data=form)
    html = await resp.text()
    await w.core.settle()
    assert resp.status == 200
    assert "导入 2 条" in html and "第 4 行" in html and "第 5 行" in html, html
    assert "已替换原课表" in html  # the demo term had a 课表
    chat = w.last_text(OFFICE)
    assert chat.startswith("课表已导入") and "导入 2 条" in chat and "第 4 行" in chat
    await w.say(TEACHER, "我的课表")
    week = w.last_text(TEACHER)
    assert "计算机网络基础" in week and "电工基础" not in week


async def test_an_xlsx_and_a_wrong_file(wecom):
    w = wecom
    pin_today(w.core, TODAY)
    path = await _open_card(w)
    before = w.mark()
    status, html = await _post(w, path, b"not a sheet", "课表.txt")
    assert status == 200 and "只支持 .xlsx、.xls 或 .csv 文件，收到的是 .txt" in html
    assert "导入完成" not in html and not w.since(before, OFFICE)  # nothing imported, nothing said in chat
    data = xlsx(COLUMNS, ["", "孙丽婷", "计算机网络基础", "计网2401", "4", "3-4", "1-15单周", "B202"])
    status, html = await _post(w, path, data, "课表.xlsx")
    assert status == 200 and "导入 1 条" in html, html
    status, html = await _post(w, path, data, "课表.xlsx", term="2026-2027")
    assert "请选择学期" in html and "导入完成" not in html


async def test_only_the_office_may_import(wecom):
    w = wecom
    pin_today(w.core, TODAY)
    await w.say(TEACHER, "课表")
    assert "导入课表" not in w.last_text(TEACHER)  # not a command for teachers
    path = await _open_card(w)
    forged = path.replace(f"u={OFFICE}", f"u={TEACHER}")
    assert (await w.client.get(forged)).status == 403  # the signature names the office person
    assert (await w.client.get(path.split("?")[0])).status == 403


async def test_the_template_downloads_as_xlsx(wecom):
    w = wecom
    resp = await w.client.get("/timetable/template.xlsx")
    assert resp.status == 200
    rows = [list(r) for r in load_workbook(io.BytesIO(await resp.read())).active.iter_rows(values_only=True)]
    assert rows[0] == COLUMNS and len(rows) == 3
