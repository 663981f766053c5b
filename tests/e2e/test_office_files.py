"""Files the office can reach, over the real WeCom callback and the signed pages: a sheet
in .xlsx, .xls or GBK/UTF-8 .csv passes (or is refused) the same way; blank optional cells
pass; every upload (each version) is one tap from 进度, on the run's page and in a zip;
every sheet step offers a template that opens as xlsx with the step's header row."""
from __future__ import annotations

import html as htmllib
import io
import re
import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook

from bot.links import run_files_url
from handlers.run_files import ZipRefused, build_zip
from models import StoredFile
from tests.support.files import ABNORMAL, ATTENDANCE, JPEG, WORKLOAD, csv_bytes, xls, xlsx
from tests.support.flows import files_text, finish_office_tasks, merged_card, progress_text, run_of
from tests.support.harness import card_text, card_url
from tests.support.pages import download, local, upload
from tests.support.people import OFFICE, SECRETARIES, TEACHER

LINK = re.compile(r"\[([^\]]+)\]\((http[^)\s]+)\)")
PROBLEMS = re.compile(r"<li>(.*?)</li>")
FORMATS = {  # name → (file name, bytes for a header and rows)
    "xlsx": ("名单.xlsx", xlsx),
    "xls": ("名单.xls", xls),
    "gbk csv": ("名单.csv", csv_bytes),
    "utf-8 csv": ("名单.csv", lambda h, *r: csv_bytes(h, *r, encoding="utf-8-sig")),
}
# 承诺书: 黄福东 sends a correction (two versions), the others one file each
PROMISES = [("huangfd", "承诺书.pdf", b"%PDF-1.4 huangfd v1"), ("huangfd", "承诺书-更正.pdf", b"%PDF-1.4 huangfd v2"),
            ("zhoujs", "周建森承诺书.pdf", b"%PDF-1.4 zhoujs"), ("tangwj", "唐文杰承诺书.pdf", b"%PDF-1.4 tangwj"),
            ("panxl", "潘晓玲承诺书.pdf", b"%PDF-1.4 panxl")]


async def registration_with_promises(w):
    """1.1 up to the 系部's lists, every 辅导员's 承诺书 uploaded through the page from their card."""
    await w.say(OFFICE, "启动 1.1")
    run = await run_of(w, "1.1")
    await finish_office_tasks(w, run)  # 拟定方案
    await finish_office_tasks(w, run)  # 制作分班审核名单
    for userid, name, data in PROMISES:
        status, page = await upload(w, card_url(w.last_card(userid)), data, name)
        assert status == 200 and "已收到" in page, page
    return run


async def fetch(w, url: str) -> tuple[int, bytes, str]:
    resp = await w.client.get(local(htmllib.unescape(url)))
    return resp.status, await resp.read(), resp.headers.get("Content-Type", "")


# ----- one reader, the same checks -------------------------------------------------------------------
async def test_xls_and_gbk_csv_pass_and_fail_the_same_checks_as_xlsx(wecom):
    w = wecom
    await registration_with_promises(w)
    url = card_url(w.last_card(SECRETARIES["机电工程系"]))
    refusals = {}
    for fmt, (name, make) in FORMATS.items():
        _, no_type = await upload(w, url, make(["学号", "姓名", "班级", "说明"], ["2024001", "张三", "机电2401", "因病"]), name)
        status, blank = await upload(w, url, make(ABNORMAL, ["2024001", "张三", "机电2401", "休学", ""],
                                                  ["2024002", "", "机电2401", "", "转学"]), name)
        assert status == 422, (fmt, blank)
        refusals[fmt] = (PROBLEMS.findall(no_type), PROBLEMS.findall(blank))
    assert refusals["xlsx"][0] == ["缺少列：异常类型（第 1 行应包含：学号、姓名、班级、异常类型）"]
    assert refusals["xlsx"][1] == ["第 3 行：姓名、异常类型 为空"]  # row 2's blank 说明 is optional
    assert all(found == refusals["xlsx"] for found in refusals.values()), refusals

    # each 系部 in its own format; blank 说明 cells everywhere
    sent = {"机电工程系": ("xls", ["2024001", "张三", "机电2401", "休学", ""]),
            "信息工程系": ("gbk csv", ["2024101", "王五", "计网2401", "学籍异常", ""]),
            "经济管理系": ("xlsx", ["2024201", "赵六", "会计2401", "未报到", ""]),
            "通识教育部": ("xlsx", ["2024301", "钱七", "电商2401", "未报到", ""])}
    for dept, (fmt, row) in sent.items():
        name, make = FORMATS[fmt]
        status, page = await upload(w, card_url(w.last_card(SECRETARIES[dept])), make(ABNORMAL, row), name)
        assert status == 200 and "已收到" in page, (fmt, page)
    rows = await download(w, card_url(merged_card(w)))
    assert rows[0] == ["系部"] + ABNORMAL
    got = sorted([(r[0], *[v or "" for v in r[1:5]]) for r in rows[1:]])
    assert got == sorted((dept, *row[:4]) for dept, (_, row) in sent.items())  # 2024001, not 2024001.0


# ----- every file one tap from 进度 --------------------------------------------------------------------
async def test_every_upload_is_one_tap_from_progress_with_versions_page_and_zip(wecom):
    w = wecom
    run = await registration_with_promises(w)
    sheet = xls(ABNORMAL, ["2024001", "张三", "机电2401", "休学", "因病"])
    assert (await upload(w, card_url(w.last_card("linms")), sheet, "异常名单.xls"))[0] == 200
    uploaded = {data for _, _, data in PROMISES} | {sheet}

    await w.say(OFFICE, "进度 1.1")
    assert "【进度】" in progress_text(w)
    listing = files_text(w)
    assert "上传注册承诺书" in listing and "上报异常学生名单" in listing
    assert "机电工程系 黄福东：[承诺书-更正.pdf]" in listing and "[第1版]" in listing
    links = dict((text, url) for text, url in LINK.findall(listing))
    assert not re.sub(LINK, "", listing).count("http")  # no raw URL outside a link
    fetched = set()
    for text, url in links.items():
        if "/file/" in url:
            status, body, _ = await fetch(w, url)
            assert status == 200, (text, body[:200])
            fetched.add(body)
    assert fetched == uploaded  # every version of every file, byte for byte

    # the run's page: per 系部 and person, every version, and a zip of a step
    page_url = links["打开全部文件（可打包下载）"]
    status, body, _ = await fetch(w, page_url)
    page = body.decode()
    assert status == 200 and "黄福东" in page and "第 2 版（最新）" in page and "第 1 版" in page
    assert "机电工程系" in page and "信息工程系" in page and "林美深" in page
    hrefs = [htmllib.unescape(h) for h in re.findall(r'<a class="file[^"]*" href="([^"]+)"', page)]
    assert {(await fetch(w, h))[1] for h in hrefs} == uploaded
    zips = re.findall(r'<a class="zip" href="([^"]+)"', page)
    assert len(zips) == 2
    status, data, ctype = await fetch(w, "http://campusbot.test" + htmllib.unescape(zips[0]))
    assert status == 200 and ctype == "application/zip"
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = sorted(zf.namelist())
        assert "机电工程系/黄福东/v1_承诺书.pdf" in names and "机电工程系/黄福东/v2_承诺书-更正.pdf" in names
        assert len(names) == 5 and {zf.read(n) for n in names} == {d for _, _, d in PROMISES}

    # only those who may see the run's files: not a 系部's secretary, not a forged link
    assert (await fetch(w, run_files_url(w.core.settings, run.id, "linms")))[0] == 403
    assert (await fetch(w, re.sub(r"sig=\w+", "sig=" + "0" * 32, page_url)))[0] == 403
    await w.say(TEACHER, "进度 1.1")
    assert not files_text(w, TEACHER)


async def test_a_long_file_list_fits_one_message_with_every_link_whole(wecom):
    """Forty uploads: fewer people are listed, never a link cut in half, and the page link stays."""
    w = wecom
    run = await registration_with_promises(w)
    async with w.core.db.session() as s:
        for i in range(40):
            s.add(StoredFile(run_id=run.id, step_id="s3", userid=f"x{i:02d}", department="机电工程系",
                             filename=f"很长的文件名-注册责任承诺书-第{i}班-签字扫描件.pdf", path="/nowhere", size=10))
        await s.commit()
    await w.say(OFFICE, "进度 1.1")
    listing = files_text(w)
    assert len(listing.encode()) <= 2048 and "另有" in listing
    links = LINK.findall(listing)
    assert links[-1][0] == "打开全部文件（可打包下载）"
    assert all(re.fullmatch(r"http://campusbot\.test/files?/\d+\?u=wangjw&exp=\d+&sig=[0-9a-f]{32}", u) for _, u in links)


def test_a_zip_past_its_limit_is_refused(tmp_path: Path):
    big = tmp_path / "a.pdf"
    big.write_bytes(b"%PDF" + b"x" * 2048)
    with pytest.raises(ZipRefused):
        build_zip(tmp_path / "z.zip", [("a/v1_a.pdf", str(big))], limit=1024)
    assert not (tmp_path / "z.zip").exists()
    made = build_zip(tmp_path / "z.zip", [("a/v1_a.pdf", str(big))])
    assert zipfile.ZipFile(made).read("a/v1_a.pdf") == big.read_bytes()


# ----- templates and required columns -------------------------------------------------------------
async def template_of(w, card: dict) -> tuple[str, list[list]]:
    """The upload page from a card, and the template it links to, as rows of its first sheet."""
    status, body, _ = await fetch(w, card_url(card))
    page = body.decode()
    assert status == 200
    href = re.search(r'<a class="template" href="([^"]+)"', page).group(1)
    status, data, ctype = await fetch(w, "http://campusbot.test" + htmllib.unescape(href))
    assert status == 200 and ctype.startswith("application/vnd.openxmlformats-officedocument.spreadsheetml")
    wb = load_workbook(io.BytesIO(data))
    return page, [list(r) for ws in wb.worksheets for r in ws.iter_rows(values_only=True)]


async def test_each_sheet_step_offers_its_template_and_names_required_columns(wecom):
    w = wecom
    await registration_with_promises(w)
    card = w.last_card("linms")
    assert "上传页可下载模板" in card_text(card)
    page, rows = await template_of(w, card)
    assert "学号、姓名、班级、异常类型" in page and "选填列（可以空着）：<span class=\"optional-columns\">说明" in page
    assert rows[0] == ABNORMAL and ["说明", "选填，可以空着"] in rows and ["学号", "必填，每行都要写"] in rows
    # a photo sent to this sheet step: a card back to the same page, never a raw link in text
    await w.image("linms", JPEG)
    back = w.last_card("linms")
    assert "不能用图片代替" in card_text(back) and "上传页可下载表格模板" in card_text(back)
    assert card_url(back).split("?")[0] == card_url(card).split("?")[0]  # the same task's page
    assert not any("http" in t for t in w.texts("linms"))
    filled = xlsx(ABNORMAL, ["2024001", "张三", "机电2401", "休学"])  # the template's header, 说明 left blank
    assert (await upload(w, card_url(card), filled))[0] == 200


async def test_attendance_page_lists_required_columns_and_blank_optional_cells_pass(wecom):
    w = wecom
    await w.say(OFFICE, "启动 1.6")
    ask = w.last_card(OFFICE)  # 教务处's 工作量表 for the teachers to check
    page, rows = await template_of(w, ask)
    assert "工号、姓名、课程、班级、课时" in page and rows[0] == WORKLOAD
    await w.say(OFFICE, "跳过 1.6 本月工作量已线下核对")
    card = w.last_card("linms")
    assert "必填列：工号、姓名、请假课时；选填：晚自习课时、选修课课时" in card_text(card)
    page, rows = await template_of(w, card)
    assert '<b class="required-columns">工号、姓名、请假课时</b>' in page and rows[0] == ATTENDANCE
    status, refused = await upload(w, card_url(card), xlsx(ATTENDANCE, ["sunlt", "孙丽婷", "", 4, ""]))
    assert status == 422 and PROBLEMS.findall(refused) == ["第 2 行：请假课时 为空"]
    status, _ = await upload(w, card_url(card), csv_bytes(ATTENDANCE, ["sunlt", "孙丽婷", 0, "", ""],
                                                          ["chenzr", "陈志荣", 2, 4, ""]), "考勤.csv")
    assert status == 200
