"""Uploads: images in chat, files through the signed page; limits, checks, history."""
from __future__ import annotations

import io
import time

from aiohttp import FormData
from openpyxl import Workbook
from sqlalchemy import select

from bot.links import signed_task_link
from models import StoredFile, Task
from tests.harness import card_text, card_url, local_path

OFFICE = "wangjw"
COUNSELORS = ("huangfd", "zhoujs", "tangwj", "panxl")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200


async def start_registration(w):
    await w.say(OFFICE, "启动 1.1")
    assert "已启动" in w.last_text(OFFICE)
    await w.click(OFFICE, w.last_card(OFFICE), "已完成")  # 拟定方案
    await w.click(OFFICE, w.last_card(OFFICE), "已完成")  # 制作分班审核名单


async def upload(w, url: str, name: str, data: bytes):
    form = FormData()
    form.add_field("file", data, filename=name, content_type="application/octet-stream")
    resp = await w.client.post(local_path(url), data=form)
    await w.core.settle()
    return resp.status, await resp.text()


def xlsx(rows) -> bytes:
    wb = Workbook()
    for r in rows:
        wb.active.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


async def test_upload_steps_end_to_end(wecom):
    w = wecom
    await start_registration(w)
    cards = {c: w.last_card(c) for c in COUNSELORS}
    assert all("请上传" in card["main_title"]["title"] for card in cards.values())

    # an image sent in chat completes the counselor's upload
    await w.image("huangfd", PNG, "签字页.png")
    assert "已收到" in w.last_text("huangfd")

    # the page: wrong type, then a pdf
    url = card_url(cards["zhoujs"])
    assert url.startswith("http://campusbot.test/upload/")
    page = await w.client.get(local_path(url))
    assert page.status == 200 and "注册责任承诺书" in await page.text()
    status, html = await upload(w, url, "承诺书.exe", b"MZ" + b"\x00" * 100)
    assert status == 422 and "不支持 .exe" in html
    status, html = await upload(w, url, "承诺书.pdf", b"%PDF-1.4" + b"\x00" * 100)
    assert status == 200 and "已收到" in html
    # resubmitting while the step still runs keeps both versions
    status, html = await upload(w, url, "承诺书-更正.pdf", b"%PDF-1.4" + b"\x01" * 100)
    assert status == 200 and "承诺书.pdf" in html and "承诺书-更正.pdf" in html

    for c in ("tangwj", "panxl"):
        await upload(w, card_url(cards[c]), "承诺书.pdf", b"%PDF-1.4" + b"\x00" * 100)

    # the secretaries' spreadsheet step: a wrong sheet is refused with what is missing, row by row
    sec_card = w.last_card("linms")
    assert "汇总异常信息学生名单" in card_text(sec_card)
    url = card_url(sec_card)
    status, html = await upload(w, url, "异常名单.xlsx", xlsx([["学号", "姓名", "班级"], ["2401001", "张三", "机电2401"]]))
    assert status == 422 and "缺少列：异常类型、说明" in html
    status, html = await upload(w, url, "异常名单.xlsx", xlsx([["学号", "姓名", "班级", "异常类型", "说明"],
                                                           ["2401001", "张三", "机电2401", "休学", ""],
                                                           ["", "李四", "机电2401", "转学", "转出"]]))
    assert status == 422 and "第 2 行：说明 为空" in html and "第 3 行：学号 为空" in html
    status, html = await upload(w, url, "异常名单.xlsx", xlsx([["学号", "姓名", "班级", "异常类型", "说明"],
                                                           ["2401001", "张三", "机电2401", "休学", "因病"]]))
    assert status == 200 and "已收到" in html

    async with w.core.db.session() as s:
        files = (await s.execute(select(StoredFile).where(StoredFile.userid != "system"))).scalars().all()
    assert {f.filename for f in files} >= {"签字页.png", "承诺书.pdf", "承诺书-更正.pdf", "异常名单.xlsx"}


async def test_links_are_signed_and_expire(wecom):
    w = wecom
    await start_registration(w)
    url = card_url(w.last_card("zhoujs"))
    tampered = local_path(url).replace("u=zhoujs", "u=huangfd")
    assert (await w.client.get(tampered)).status == 403
    async with w.core.db.session() as s:
        task = (await s.execute(select(Task).where(Task.assignee == "zhoujs", Task.status == "open"))).scalar_one()
    old = signed_task_link(w.core.settings, "upload", task.id, "zhoujs", now=time.time() - 8 * 24 * 3600)
    resp = await w.client.get(local_path(old))
    assert resp.status == 403 and "链接已过期" in await resp.text()
    assert (await w.client.get("/upload/abc")).status == 400
    assert (await w.client.get(f"/upload/{task.id}")).status == 403


async def test_too_big_is_refused(wecom):
    w = wecom
    await start_registration(w)
    url = card_url(w.last_card("zhoujs"))
    status, html = await upload(w, url, "大文件.pdf", b"%PDF" + b"\x00" * (21 * 1024 * 1024))
    assert status == 422 and "文件太大" in html


async def test_progress_shows_who_is_behind_with_task_numbers(wecom):
    w = wecom
    await start_registration(w)
    await w.image("huangfd", PNG, "签字页.png")
    await w.say(OFFICE, "进度 1.1")
    text = w.last_text(OFFICE)
    assert "3. 下发审核名单到班级逐一审核" in text and "【进行中】" in text
    assert "✅ 机电工程系 黄福东：已完成" in text
    async with w.core.db.session() as s:
        task = (await s.execute(select(Task).where(Task.assignee == "zhoujs", Task.status == "open"))).scalar_one()
    assert f"⬜ 机电工程系 周建森：未完成（周建森） 任务号 {task.id}" in text
    # 转派 by that number: the new counselor gets the card, and it is audited
    await w.say(OFFICE, f"转派 {task.id} 黄福东 周老师请假")
    assert "转派给 黄福东" in w.last_text(OFFICE)
    assert "请上传" in w.last_card("huangfd")["main_title"]["title"]
