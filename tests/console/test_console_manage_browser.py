"""The console's 通知, 通讯录 and refusals in a real Chromium against the demo on 127.0.0.1 with its
real workers: a notice to every 辅导员 with an attachment, confirmed in the local chat and exported;
a notice scheduled for later, sent once the clock reaches it; a directory import previewed then
applied; a form whose token was tampered with; a 教学秘书 kept to her 系部. Screenshots at desktop
size go to the test's tmp dir (artefacts, not committed). Skipped without Debian's chromium."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from openpyxl import load_workbook

from tests.support.browser import ARGS, CHROMIUM

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} not installed (apt install chromium)")
playwright_api = pytest.importorskip("playwright.async_api", reason="playwright (python) not installed")

expect = playwright_api.expect
DESKTOP = {"width": 1366, "height": 900}
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
async def chromium():
    async with playwright_api.async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        await browser.close()


async def desk(chromium, base: str, name: str):
    """A desktop browser of its own (cookies apart), logged in through the demo's picker."""
    ctx = await chromium.new_context(viewport=DESKTOP, locale="zh-CN", accept_downloads=True)
    ctx.set_default_timeout(15_000)
    page = await ctx.new_page()
    await page.goto(f"{base}/console/login")
    await page.get_by_role("button", name=f"以{name}登录").click()
    await expect(page.locator("h1")).to_contain_text("本学期总览")
    return page


async def compose(page, text: str, role: str, *, department: str = "", deadline: str = "", file: Path | None = None,
                  send_at: str = "") -> None:
    await page.get_by_role("link", name="通知", exact=True).click()
    await page.get_by_role("link", name="发通知").click()
    await page.fill("#text", text)
    await page.locator("#roles").get_by_label(role).check()
    if department:
        await page.locator("#departments").get_by_label(department).check()
    if deadline:
        await page.fill('input[name="deadline"]', deadline)
    if file:
        await page.set_input_files('input[name="file"]', str(file))
    if send_at:
        await page.get_by_label("定时发送：").check()
        await page.fill('input[name="send_at"]', send_at)
    await page.get_by_role("button", name="发送通知").click()


async def reload_until(page, locator, text: str) -> None:
    """The console is server-rendered: reload until what the workers did shows."""
    for _ in range(30):
        if text in (await locator.inner_text()):
            return
        await page.wait_for_timeout(500)
        await page.reload()
    await expect(locator).to_contain_text(text)


async def test_notices_directory_and_refusals_in_chromium(demo_site, chromium, tmp_path):
    base, core = demo_site.url, demo_site.core
    office = await desk(chromium, base, "王建伟")

    # 1. a notice to every 辅导员, with an attachment
    attachment = tmp_path / "学籍异动表.pdf"
    attachment.write_bytes(PDF)
    await compose(office, "请各位辅导员周五前提交学籍异动名单", "辅导员", deadline="2026-12-04T17:00", file=attachment)
    await expect(office.locator(".flash.ok")).to_contain_text("通知已发出")
    await expect(office.locator("#progress .done-total")).to_have_text("0/4")
    notice_url = office.url

    # 2. 黄福东 confirms in the local chat; the attachment opens from the card
    chat = await office.context.new_page()
    await chat.goto(f"{base}/chat/huangfd")
    card = chat.locator(".card", has_text="请各位辅导员周五前提交学籍异动名单").last
    await expect(card).to_contain_text("学籍异动表.pdf")
    await card.locator(".card-btn", has_text="确认收到").click()
    await expect(chat.locator(".row.in .bubble.click").last).to_have_text("点击了 确认收到")
    await chat.close()
    await office.goto(notice_url)
    await reload_until(office, office.locator("#progress .done-total"), "1/4")
    await expect(office.locator('tr[data-department="机电工程系"]')).to_contain_text("周建森")
    await office.screenshot(path=str(tmp_path / "console_notice.png"), full_page=True)

    # 3. export the confirmations
    async with office.expect_download() as download:
        await office.get_by_role("link", name="导出确认情况").click()
    sheet = tmp_path / "confirmations.xlsx"
    await (await download.value).save_as(sheet)
    rows = [[c.value for c in r] for r in load_workbook(sheet).active.iter_rows()]
    assert {r[0]: r[2] for r in rows[1:]} == {"黄福东": "已确认", "周建森": "未确认", "唐文杰": "未确认",
                                              "潘晓丽": "未确认"}

    # 4. a notice for 机电工程系's 教学秘书 at 10:30, sent when the clock reaches it
    await compose(office, "十点半：机电工程系教学秘书请到教务处领取试卷袋", "教学秘书", department="机电工程系",
                  send_at="2026-12-03T10:30")
    await expect(office.locator(".flash.ok")).to_contain_text("将于 2026-12-03 10:30 发给 1 人")
    await expect(office.locator("#notice-state")).to_have_text("定时发送")
    scheduled_url = office.url
    demo_site.clock.advance(minutes=31)
    await core.reminders.tick()
    await reload_until(office, office.locator("#notice-state"), "确认中")
    chat = await office.context.new_page()
    await chat.goto(f"{base}/chat/linms")
    await expect(chat.locator(".card", has_text="领取试卷袋")).to_have_count(1)
    await chat.close()

    # 5. the directory: preview, then apply
    directory = tmp_path / "通讯录.csv"
    directory.write_text("userid,name,department,roles,classes\n"
                         "zhoujs,周建森,机电工程系,辅导员,数控2401;数控2402\n"
                         "newt,新老师,信息工程系,任课教师,\n"
                         "badr,错角色,信息工程系,校长,\n", encoding="utf-8")
    await office.get_by_role("link", name="通讯录").click()
    await office.set_input_files('input[name="file"]', str(directory))
    await office.get_by_role("button", name="预览").click()
    await expect(office.locator("#summary")).to_contain_text("新增 1 人，更新 1 人，不变 0 人，不导入 1 行")
    await expect(office.locator("tr.row-refused")).to_contain_text("未知角色：校长")
    await office.screenshot(path=str(tmp_path / "console_directory_preview.png"), full_page=True)
    await office.get_by_role("button", name="确认导入").click()
    await expect(office.locator(".flash.ok")).to_contain_text("新增 1 人，更新 1 人")
    await office.get_by_label("姓名或工号").fill("新老师")
    await office.get_by_role("button", name="筛选").click()
    await expect(office.locator("#people tbody tr")).to_have_count(1)

    # the term at a glance: the chart of runs by state and 系部, the board, the 校历's weeks
    await office.get_by_role("link", name="本学期总览").click()
    await expect(office.locator("#weeks")).to_contain_text("第13周")
    await office.screenshot(path=str(tmp_path / "console_overview.png"), full_page=True)
    await office.get_by_role("link", name="校历课表").click()
    await expect(office.locator("#timetable")).to_contain_text("条上课安排")
    await expect(office.locator(".semester").first).to_contain_text("国庆节放假")
    await office.screenshot(path=str(tmp_path / "console_calendar.png"), full_page=True)

    # 6. a form whose token was tampered with does nothing
    await office.get_by_role("link", name="通知", exact=True).click()
    await office.get_by_role("link", name="发通知").click()
    await office.fill("#text", "这条不会发出")
    await office.locator("#roles").get_by_label("辅导员").check()
    await office.evaluate("document.querySelector('#compose input[name=csrf]').value = 'forged'")
    await office.get_by_role("button", name="发送通知").click()
    await expect(office.locator("h1")).to_have_text("页面已过期")
    await office.goto(f"{base}/console/notices")
    await expect(office.locator("#notices")).not_to_contain_text("这条不会发出")

    # 7. a 教学秘书 of 信息工程系: her own 系部 only
    secretary = await desk(chromium, base, "郭燕")
    await secretary.goto(scheduled_url)
    await expect(secretary.locator("h1")).to_have_text("这项工作与信息工程系无关")
    await secretary.goto(notice_url)
    await expect(secretary.locator("#progress tbody tr")).to_have_count(1)
    await expect(secretary.locator("#progress")).to_contain_text("唐文杰")
    await expect(secretary.get_by_role("button", name="催办未确认的人")).to_have_count(0)
    await secretary.goto(f"{base}/console/people?department=机电工程系")
    await expect(secretary.locator("#people")).not_to_contain_text("黄福东")
    await secretary.screenshot(path=str(tmp_path / "console_secretary.png"), full_page=True)

    # 8. 撤回: the cards in the local chat turn to 已撤回
    office.on("dialog", lambda dialog: dialog.accept())
    await office.goto(notice_url)
    await office.get_by_role("button", name="撤回通知").click()
    await expect(office.locator(".flash.ok")).to_contain_text("已撤回通知")
    await expect(office.locator("#notice-state")).to_have_text("已撤回")
    chat = await office.context.new_page()
    await chat.goto(f"{base}/chat/zhoujs")
    card = chat.locator(".card", has_text="请各位辅导员周五前提交学籍异动名单").first
    await expect(card.locator(".card-btn.done")).to_have_text("已撤回")
    await expect(chat.locator(".row.out", has_text="这条通知已撤回")).to_have_count(1)
