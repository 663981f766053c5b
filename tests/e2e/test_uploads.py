"""Uploads: images in chat, files through the signed page; limits, checks, history."""
from __future__ import annotations

import io
import time

from aiohttp import FormData
from openpyxl import Workbook
from sqlalchemy import select

from bot.links import signed_task_link
from models import StoredFile, Task
from tests.support.files import PNG
from tests.support.flows import progress_text, start_registration
from tests.support.harness import card_text, card_url, local_path
from tests.support.pages import upload_named as upload
from tests.support.people import COUNSELORS, OFFICE


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
    assert "上报异常学生名单" in card_text(sec_card)
    url = card_url(sec_card)
    status, html = await upload(w, url, "异常名单.xlsx", xlsx([["学号", "姓名", "班级"], ["2401001", "张三", "机电2401"]]))
    assert status == 422 and "缺少列：异常类型" in html and "说明" not in html.split("缺少列")[1][:20]
    status, html = await upload(w, url, "异常名单.xlsx", xlsx([["学号", "姓名", "班级", "异常类型", "说明"],
                                                           ["2401001", "张三", "机电2401", "休学", ""],
                                                           ["", "李四", "机电2401", "转学", "转出"]]))
    assert status == 422 and "第 3 行：学号 为空" in html and "第 2 行" not in html  # 说明 may be blank
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
    text = progress_text(w)
    assert "3. 上传注册承诺书" in text and "【进行中】" in text
    assert "✅ 机电工程系 黄福东：已完成" in text
    async with w.core.db.session() as s:
        task = (await s.execute(select(Task).where(Task.assignee == "zhoujs", Task.status == "open"))).scalar_one()
    assert f"⬜ 机电工程系 周建森：未完成（周建森） 任务号 {task.id}" in text
    # 转派 by that number: the new counselor gets the card, and it is audited
    await w.say(OFFICE, f"转派 {task.id} 黄福东 周老师请假")
    assert "转派给 黄福东" in w.last_text(OFFICE)
    assert "请上传" in w.last_card("huangfd")["main_title"]["title"]


# ----- hostile names and contents -------------------------------------------------------------
def uploaded_files(w) -> list[str]:
    from pathlib import Path

    root = Path(w.core.settings.data_dir) / "files" / "uploads"
    return sorted(p.name for p in root.rglob("*") if p.is_file()) if root.exists() else []


async def stored_files(w) -> list[StoredFile]:
    async with w.core.db.session() as s:
        return list((await s.execute(select(StoredFile).where(StoredFile.userid != "system")
                                     .order_by(StoredFile.id))).scalars())


async def raw_upload(w, url: str, name: str, data: bytes):
    """A multipart body written by hand, as a hostile client would: the name's bytes as given (even NUL)."""
    boundary = "----campusbot-test"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"".encode()
            + name.encode() + b"\"\r\nContent-Type: application/octet-stream\r\n\r\n" + data
            + f"\r\n--{boundary}--\r\n".encode())
    resp = await w.client.post(local_path(url), data=body,
                               headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    await w.core.settle()
    return resp.status, await resp.text()


async def test_hostile_filenames_are_sanitised_never_a_500(wecom):
    w = wecom
    await start_registration(w)
    url = card_url(w.last_card("zhoujs"))
    pdf = b"%PDF-1.4" + b"\x00" * 100
    long_name = "承" * 300 + ".pdf"
    # a raw NUL in the part's headers: aiohttp cannot parse the form; the page says so (not a 500)
    status, html = await raw_upload(w, url, "a\x00b.pdf", pdf)
    assert status == 422 and "文件名" in html
    for name in ("承诺书%00.pdf", "../../etc/passwd%2F承诺书.pdf", long_name, "CON.pdf", 'a<>:|?*.pdf'):
        status, html = await raw_upload(w, url, name, pdf)
        assert status == 200 and "已收到" in html, (name, status, html[:300])
    kept = [f.filename for f in await stored_files(w)]
    assert all(len(n.encode()) <= 180 and n.endswith(".pdf") for n in kept), kept
    assert not any(c in n for n in kept for c in '\x00/\\<>:|?*'), kept
    assert kept[0] == "承诺书_.pdf" and kept[1] == "承诺书.pdf" and kept[3] == "_CON.pdf", kept
    assert len(uploaded_files(w)) == len(kept)  # on disk under names of at most ~190 bytes too
    assert all(len(n.encode()) <= 200 for n in uploaded_files(w))


async def test_content_is_sniffed_html_as_jpg_is_refused_and_nothing_is_left(wecom):
    w = wecom
    await start_registration(w)
    url = card_url(w.last_card("zhoujs"))
    html_page = b"<!doctype html><html><script>alert(document.cookie)</script></html>"
    status, html = await upload(w, url, "签字页.jpg", html_page)
    assert status == 422 and "文件内容与扩展名 .jpg 不符" in html
    status, html = await upload(w, url, "承诺书.pdf", b"MZ" + b"\x00" * 100)  # an .exe renamed
    assert status == 422 and "文件内容与扩展名 .pdf 不符" in html
    assert uploaded_files(w) == []  # refused files are deleted
    # in chat too: an "image" that is a web page is refused, never kept as text/html
    await w.image("huangfd", html_page, "签字页.jpg")
    assert "文件内容与扩展名 .jpg 不符" in w.last_text("huangfd")
    assert await stored_files(w) == []

    # the stored type comes from the bytes, not from what the browser claimed
    form = FormData()
    form.add_field("file", PNG, filename="签字页.jpg", content_type="text/html")
    resp = await w.client.post(local_path(url), data=form)
    await w.core.settle()
    assert resp.status == 200
    assert [(f.filename, f.content_type) for f in await stored_files(w)] == [("签字页.jpg", "image/png")]


def test_sniff_knows_each_kind_from_its_bytes(tmp_path):
    from handlers.sniff import kind_for, sniff

    wb = Workbook()
    buf = io.BytesIO()
    wb.save(buf)
    import zipfile

    plain_zip = io.BytesIO()
    with zipfile.ZipFile(plain_zip, "w") as zf:
        zf.writestr("a.txt", "x")
    samples = {
        "a.png": PNG, "a.jpg": b"\xff\xd8\xff\xe0" + b"\x00" * 20, "a.gif": b"GIF89a" + b"\x00" * 20,
        "a.webp": b"RIFF\x00\x00\x00\x00WEBPVP8 " + b"\x00" * 20, "a.pdf": b"%PDF-1.7\n",
        "a.xlsx": buf.getvalue(), "a.xls": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 20,
        "a.csv": "学号,姓名\n1,张三\n".encode("gb18030"), "b.xlsx": plain_zip.getvalue(),
        "b.jpg": b"<html></html>", "b.csv": b"<!DOCTYPE html><p>", "c.csv": b"\x00\x01\x02",
    }
    found = {}
    for name, data in samples.items():
        (tmp_path / name).write_bytes(data)
        found[name] = kind_for("." + name.rsplit(".", 1)[1], sniff(tmp_path / name))
    assert found == {"a.png": "png", "a.jpg": "jpeg", "a.gif": "gif", "a.webp": "webp", "a.pdf": "pdf",
                     "a.xlsx": "xlsx", "a.xls": "xls", "a.csv": "csv", "b.xlsx": None, "b.jpg": None,
                     "b.csv": None, "c.csv": None}


def test_table_limits_stop_the_read_and_name_the_limit(tmp_path):
    from handlers.sheets import MAX_ROWS, TableRefused, read_table

    big = tmp_path / "big.csv"
    big.write_text("学号,姓名\n" + "".join(f"{i},张三\n" for i in range(MAX_ROWS + 5)), encoding="utf-8")
    try:
        read_table(big)
        raise AssertionError("read past the row limit")
    except TableRefused as refused:
        assert refused.problem.values == {"what": "rows", "limit": MAX_ROWS}
    ok = tmp_path / "ok.csv"
    ok.write_text("学号,姓名\n" + "".join(f"{i},张三\n" for i in range(MAX_ROWS)), encoding="utf-8")
    assert len(read_table(ok)) == MAX_ROWS + 1


async def test_an_upload_cut_off_midway_leaves_nothing(wecom):
    """The browser closes the connection half-way through a file: the partial file is deleted."""
    import asyncio

    w = wecom
    await start_registration(w)
    url = local_path(card_url(w.last_card("zhoujs")))
    boundary = "----campusbot-cut"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"承诺书.pdf\"\r\n"
            "Content-Type: application/pdf\r\n\r\n").encode() + b"%PDF-1.4" + b"\x00" * 300_000
    server = w.client.server
    reader, writer = await asyncio.open_connection(server.host, server.port)
    writer.write((f"POST {url} HTTP/1.1\r\nHost: {server.host}\r\nContent-Type: multipart/form-data; "
                  f"boundary={boundary}\r\nContent-Length: {len(head) + 5_000_000}\r\n\r\n").encode() + head)
    await writer.drain()
    for _ in range(50):
        await asyncio.sleep(0.1)
        if uploaded_files(w):
            break
    assert len(uploaded_files(w)) == 1  # being written
    writer.close()
    for _ in range(50):  # the server notices the closed connection and cleans up
        await asyncio.sleep(0.1)
        if not uploaded_files(w):
            break
    assert uploaded_files(w) == []
    assert await stored_files(w) == []
    assert (await w.client.get("/healthz")).status == 200
