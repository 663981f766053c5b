"""The local chat in a real Chromium, against the app served on 127.0.0.1:
the picker, a help round trip, a 调课 approved in a second tab, 教务处 tapping from
进度 to a 辅导员's uploaded 承诺书, the whole
调停课 walked through both approvals, 教务处 and the 教学秘书 (with the record
page opened from the card), and a 驳回 with a reason typed in chat, then 重新提交 → 修改 → 确认.

Skipped when Debian's chromium is not installed (we never download a browser).
"""
from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from workflow.calendar import DEFAULT_CALENDAR_FILE, load_calendar
from tests.support.browser import ARGS, CHROMIUM
from tests.support.clock import TODAY
from tests.support.people import HEAD, TEACHER

PHONE = {"width": 390, "height": 844}
SCREENSHOT = "/tmp/devchat.png"
PROMISE_PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 2
WALK_TEACHER_PNG = "/tmp/walk_teacher.png"
WALK_RECORD_PNG = "/tmp/walk_record.png"
REPLY_MS = 15_000  # worker + 1 s polling, with room for a slow CI box

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} not installed (apt install chromium)")
playwright_api = pytest.importorskip("playwright.async_api", reason="playwright (python) not installed")
expect = playwright_api.expect


@pytest.fixture
async def context():
    async with playwright_api.async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        ctx = await browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True,
                                        locale="zh-CN")
        ctx.set_default_timeout(REPLY_MS)
        yield ctx
        await ctx.close()
        await browser.close()


def replies(page):
    """The bot's rows after the person's latest message or tap. A reminder the scheduler sends
    meanwhile may be among them, so look for the reply by its words, not by being last."""
    return page.locator(".row.in").last.locator(
        "xpath=following-sibling::div[contains(concat(' ', @class, ' '), ' out ')]")


async def say(page, text: str) -> None:
    """Type and send, then wait for the bot's answer."""
    await page.fill("#text", text)
    await page.press("#text", "Enter")
    await expect(page.locator(".row.in .bubble.text").last).to_have_text(text)
    await expect(replies(page)).not_to_have_count(0)


async def answered(page, words: str) -> None:
    await expect(replies(page).filter(has_text=words)).not_to_have_count(0)


async def open_chat(context, base_url: str, userid: str):
    page = await context.new_page()
    async with page.expect_response(lambda r: "/devchat/api/messages" in r.url) as first_poll:
        await page.goto(f"{base_url}/chat/{userid}")
    if not (await (await first_poll.value).json())["messages"]:
        # an empty chat sends "enter" and the bot greets (a chat that already holds, say, the
        # scheduler's 本周工作提要 does not: that is how WeCom behaves too)
        await expect(page.locator(".row.out", has_text="老师好")).to_have_count(1)
    return page


async def test_picker_then_help(context, base_url):
    picker = await context.new_page()
    await picker.goto(base_url + "/")
    await expect(picker.locator("section.dept h2").first).to_contain_text("教务处")
    await expect(picker.locator(f'a[data-userid="{HEAD}"]')).to_contain_text("系部主任")
    await picker.fill("#filter", "孙丽婷")
    await expect(picker.locator("li.person:visible")).to_have_count(1)

    async with context.expect_page() as new_tab:
        await picker.click(f'a[data-userid="{TEACHER}"]')
    chat = await new_tab.value
    await chat.wait_for_load_state()
    assert chat.url.endswith(f"/chat/{TEACHER}")
    await expect(chat.locator("#me")).to_contain_text("孙丽婷")
    await expect(chat.locator(".row.out").first).to_contain_text("老师好")
    await say(chat, "帮助")
    await expect(chat.locator(".row.out .bubble").last).to_contain_text("帮助 — 查看本说明")


async def test_adjust_class_approved_in_another_tab(context, base_url):
    teacher = await open_chat(context, base_url, TEACHER)
    head = await open_chat(context, base_url, HEAD)

    for text in ("调课", "电工基础", "机电2401", "12月3日 第3-4节", "实训楼A301", "12月4日 第1-2节", "不变",
                 "参加市级教学能力比赛"):
        await say(teacher, text)
    await answered(teacher, "请核对调停课申请")
    await say(teacher, "确认")
    await answered(teacher, "已提交")

    # the 系部主任's tab shows the approval card by polling
    card = head.locator(".card").last
    await expect(card.locator(".card-title")).to_contain_text("待审批")
    await expect(card).to_contain_text("电工基础")
    approve = card.locator(".card-btn", has_text="同意").first
    await expect(approve).to_be_enabled()
    await approve.click()
    await expect(head.locator(".row.in .bubble.click").last).to_have_text("点击了 同意")
    done = card.locator(".card-btn.done")
    await expect(done).to_contain_text("已由陈志荣同意")  # who, and when
    await expect(done).to_be_disabled()
    await expect(card.locator(".card-btn:not(.done)")).to_have_count(0)
    await head.screenshot(path=SCREENSHOT)


# --- 教务处 reaches an uploaded file from 进度 ----------------------------------------------------------
async def test_office_taps_from_progress_to_an_uploaded_file(context, base_url):
    office = await open_chat(context, base_url, OFFICE)
    await say(office, "启动 1.1")
    await answered(office, "已启动")
    for step in ("拟定注册方案", "制作审核名单"):
        await tap(office, card_with(office, step), "办结", "已由王建伟办结")

    # 辅导员 黄福东 uploads the signed 承诺书 (a photo) on the page his card opens
    counselor = await open_chat(context, base_url, "huangfd")
    card = card_with(counselor, "请上传")
    async with context.expect_page() as new_tab:
        await card.locator("a.card-link").click()
    upload = await new_tab.value
    await upload.set_input_files("input[type=file]", files=[{"name": "承诺书.png", "mimeType": "image/png",
                                                             "buffer": PROMISE_PNG}])
    await upload.locator("button[type=submit]").click()
    await expect(upload.locator(".ok")).to_contain_text("已收到")
    await upload.close()

    # 教务处 asks for 进度 and taps the file's name: the very bytes come back
    await say(office, "进度 1.1")
    listing = office.locator(".row.out .bubble.markdown", has_text="上传的文件").last
    link = listing.locator("a", has_text="承诺书.png")
    await expect(link).to_be_visible()
    assert "/file/" in await link.get_attribute("href")
    async with context.expect_event("response", lambda r: "/file/" in r.url) as served:
        async with context.expect_page() as new_tab:
            await link.click()
    response = await served.value
    assert response.status == 200 and await response.body() == PROMISE_PNG
    await (await new_tab.value).close()

    # …and the page with every file of the run, per 系部 and person
    async with context.expect_page() as new_tab:
        await listing.locator("a", has_text="打开全部文件").click()
    files = await new_tab.value
    await files.wait_for_load_state()
    row = files.locator("tr", has_text="黄福东")
    await expect(row).to_contain_text("机电工程系")
    await expect(row.locator("a.file")).to_have_text("承诺书.png")
    await expect(files.locator("a.zip")).to_have_count(1)


# --- 调停课 walked end to end ---------------------------------------------------------------------

LEADER = "zhaogm"  # 赵国民, 教务处分管领导
OFFICE = "wangjw"  # 王建伟, 教务处
SECRETARY = "guoyan"  # 郭燕, 信息工程系 教学秘书 (计网2401 is 信息工程系's class)


def slot(days_ahead: int, periods: str) -> str:
    """A slot the form takes without asking back: the first school day at least a few days after TODAY
    (the day the app's clock is pinned to)."""
    d = TODAY + timedelta(days=days_ahead)
    while not load_calendar(DEFAULT_CALENDAR_FILE).is_workday(d):
        d += timedelta(days=1)
    return f"{d.month}月{d.day}日 {periods}"


def card_with(page, text: str):
    return page.locator(".card", has_text=text).last


async def fill_and_confirm(teacher, kind: str, answers: list[str]) -> None:
    for text in [kind, *answers]:
        await say(teacher, text)
    await answered(teacher, "请核对调停课申请")
    await say(teacher, "确认")
    await answered(teacher, "已提交")


async def told(teacher, words: str) -> None:
    """The teacher heard, once, of a decision on her request (e.g. 陈志荣已同意)."""
    await expect(teacher.locator(".row.out", has_text=words)).to_have_count(1)


async def tap(page, card, button: str, done: str) -> None:
    """Tap a card's button; the tap shows as the person's bubble and the card greys to ``done`` (who, when)."""
    btn = card.locator(".card-btn:not(.done)", has_text=button).first
    await expect(btn).to_be_enabled()
    await btn.click()
    await expect(page.locator(".row.in .bubble.click").last).to_have_text(f"点击了 {button}")
    await expect(card.locator(".card-btn.done")).to_contain_text(done)
    await expect(card.locator(".card-btn.done")).to_be_disabled()
    await expect(card.locator(".card-btn:not(.done)")).to_have_count(0)


async def test_adjust_class_walked_through_every_step(context, base_url):
    # every person's tab open from the start, as someone demoing would have them
    teacher, head, leader, office, secretary = [
        await open_chat(context, base_url, u) for u in (TEACHER, HEAD, LEADER, OFFICE, SECRETARY)]
    original, new = slot(7, "第3-4节"), slot(9, "第1-2节")
    await fill_and_confirm(teacher, "调课", ["电工基础", "计网2401", original, "实训楼A301", new, "不变",
                                             "参加市级教学能力比赛"])
    bot_says = teacher.locator(".row.out")

    # 1. 系部主任 陈志荣
    card = card_with(head, "待审批：调课申请：电工基础（计网2401）")
    await expect(card).to_contain_text("电工基础")
    await expect(card).to_contain_text("计网2401")
    await tap(head, card, "同意", "已由陈志荣同意")
    await told(teacher, "陈志荣已同意")

    # 2. 教务处分管领导 赵国民: 陈志荣's approval is on the card
    card = card_with(leader, "待审批：调课申请：电工基础（计网2401）")
    await expect(card.locator(".field", has_text="已审批")).to_contain_text("陈志荣 同意")
    await expect(card).to_contain_text("电工基础")
    await tap(leader, card, "同意", "已由赵国民同意")
    await told(teacher, "赵国民已同意")

    # 3. 教务处 王建伟: adjust the timetable, then the record (its card links to the signed page)
    await tap(office, card_with(office, "教务处调整课表"), "办结", "已由王建伟办结")
    card = card_with(office, "教务处盖章记录表")
    link = card.locator("a.card-link")
    await expect(link).to_be_visible()
    href = await link.get_attribute("href")
    assert href.startswith(f"{base_url}/record/") and "sig=" in href and "exp=" in href, href
    assert f"u={OFFICE}&" in href  # a record link names its person
    async with context.expect_page() as new_tab:
        await link.click()
    record = await new_tab.value
    await record.wait_for_load_state()
    assert record.url == href
    table = record.locator("table")
    for words in ("记录编号", "调课申请：电工基础（计网2401）", "实训楼A301", "参加市级教学能力比赛",
                  original.split(" ")[1], new.split(" ")[1]):
        await expect(table).to_contain_text(words)
    await expect(table.locator("tr", has_text="系部主任审批")).to_contain_text("陈志荣 同意")
    await expect(table.locator("tr", has_text="分管领导审批")).to_contain_text("赵国民 同意")
    record_no = (await table.locator("tr", has_text="记录编号").locator("td").inner_text()).strip()
    assert record_no
    await record.screenshot(path=WALK_RECORD_PNG, full_page=True)
    await record.close()
    await tap(office, card, "办结", "已由王建伟办结")
    # the teacher's one "done": a card with the record and where the paper goes
    done = card_with(teacher, "调课已办结")
    await expect(done).to_contain_text("领取纸质调停课记录表")
    await expect(done.locator("a.card-link")).to_have_attribute("href", re.compile(r"/record/"))

    # 4. 信息工程系 教学秘书 郭燕: the record notice (same record) and the card to confirm 已通知班级
    notice = card_with(secretary, "通知：调课申请：电工基础（计网2401）")
    await expect(notice).to_contain_text("查收调停课记录")
    await expect(notice).to_contain_text(record_no)
    same_record = re.escape(href.split("?")[0]) + rf"\?u={SECRETARY}&exp=\d+&sig=\w+$"  # her own link
    await expect(notice.locator("a.card-link")).to_have_attribute("href", re.compile(same_record))
    confirm = card_with(secretary, "请确认：调课申请：电工基础（计网2401）")
    await expect(confirm).to_contain_text("通知班级")
    await tap(secretary, confirm, "确认已通知", "已由郭燕确认")

    # 5. the teacher heard each decision once; the 工作标准 checklist went to 教务处, not to her
    await expect(bot_says.filter(has_text="已同意")).to_have_count(2)
    await expect(bot_says.filter(has_text="工作标准")).to_have_count(0)
    await expect(office.locator(".row.out", has_text="工作标准")).to_have_count(1)
    await teacher.screenshot(path=WALK_TEACHER_PNG, full_page=True)


async def test_adjust_class_rejected_with_reason(context, base_url):
    teacher = await open_chat(context, base_url, TEACHER)
    head = await open_chat(context, base_url, HEAD)
    await fill_and_confirm(teacher, "停课", ["电工基础", "机电2401", slot(5, "第5-6节"), "实训楼A301", "外出培训"])

    card = card_with(head, "待审批：停课申请：电工基础（机电2401）")
    await expect(card).to_contain_text("外出培训")
    btn = card.locator(".card-btn", has_text="驳回").first
    await btn.click()
    await expect(head.locator(".row.in .bubble.click").last).to_have_text("点击了 驳回")
    await answered(head, "理由")
    await say(head, "本周已有两次调课")
    await answered(head, "已驳回")
    await expect(card.locator(".card-btn.done")).to_contain_text("已由陈志荣驳回")

    # the teacher's one card: the reason, and 重新提交 — the old answers, the summary at once
    refusal = card_with(teacher, "本周已有两次调课")
    await expect(refusal.locator(".card-title")).to_contain_text("已驳回")
    await refusal.locator(".card-btn", has_text="重新提交").click()
    await answered(teacher, "已按您上次的申请")
    await expect(replies(teacher).last).to_contain_text("5. 原地点：实训楼A301")
    await say(teacher, "修改 5")
    await answered(teacher, "原上课地点")
    await say(teacher, "实训楼B202")
    await answered(teacher, "5. 原地点：实训楼B202")
    await say(teacher, "确认")
    await answered(teacher, "已提交")
    again = card_with(head, "待审批：停课申请：电工基础（机电2401）")
    await expect(again).to_contain_text("实训楼B202")
    await expect(again.locator(".card-btn:not(.done)")).to_have_count(2)  # live: 同意, 驳回
    await refusal.locator(".card-btn", has_text="重新提交").click()  # already resubmitted
    await answered(teacher, "已处理")


async def test_a_sentence_starts_adjust_class_and_keeps_its_day(context, base_url):
    """As a new teacher would write it: the bot starts 调课, says the day it understood (下周三), never
    asks for it again, asks only for the periods; ✅ in 进度 has a font to render with."""
    teacher = await open_chat(context, base_url, TEACHER)
    today = TODAY  # the app runs on the school clock
    wednesday = today + timedelta(days=7 - today.weekday() + 2)  # 下周三
    said = f"{wednesday.month}月{wednesday.day}日（周三）"
    await say(teacher, "老师好，我下周三要去开会，想调一下课")
    await answered(teacher, "好的，调课")
    await answered(teacher, said)
    for text in ("电工基础", "计网2401"):
        await say(teacher, text)
    await answered(teacher, f"{said}第几节")
    await say(teacher, "帮助")  # a command mid-form: help, then the same question again
    await answered(teacher, "调课、停课、代课")
    await answered(teacher, "接着刚才的填写")
    await say(teacher, "三四节")
    await answered(teacher, f"已记下：{said}第3-4节")
    await answered(teacher, "原上课地点")
    await expect(teacher.locator(".row.out", has_text="哪一天")).to_have_count(0)

    fonts = await teacher.evaluate("getComputedStyle(document.body).fontFamily")
    assert "Noto Sans CJK SC" in fonts and "Noto Color Emoji" in fonts, fonts


async def test_office_imports_the_timetable_from_chat(context, base_url, tmp_path):
    """教务处 sends 课表, opens the card's page, uploads a GBK .csv saved by Excel, and reads the report
    on the page and in chat; the teacher's 本周课表 then has the new course."""
    office = await open_chat(context, base_url, "wangjw")
    await say(office, "课表")
    card = office.locator(".card", has_text="导入课表").last
    link = card.locator("a.card-link")
    await expect(link).to_be_visible()
    sheet = tmp_path / "课表.csv"
    sheet.write_bytes("工号,教师,课程,班级,星期,节次,周次,教室\n"
                      ",孙丽婷,单片机应用,机电2401,周四,5-6,1-18周,实训楼A301\n"
                      ",孙丽婷,单片机应用,机电2401,周九,5-6,1-18周,实训楼A301\n".encode("gbk"))
    async with context.expect_page() as new_tab:
        await link.click()
    page = await new_tab.value
    await page.wait_for_load_state()
    await expect(page.locator("h1")).to_have_text("导入课表")
    await page.set_input_files("input[name=file]", str(sheet))
    await page.click("button[type=submit]")
    # one meeting for a term of 16: the page shows what would go and waits for 确认替换
    await expect(page.locator(".error")).to_contain_text("这次导入会删除原课表 16 条")
    await page.click("#confirm-replace")
    await expect(page.locator(".ok")).to_contain_text("导入完成")
    await expect(page.locator("pre")).to_contain_text("导入 1 条")
    await expect(page.locator("pre")).to_contain_text("第 3 行")
    await page.screenshot(path="/tmp/timetable_upload.png", full_page=True)
    await expect(office.locator(".row.out", has_text="课表已导入")).to_have_count(1)
    teacher = await open_chat(context, base_url, TEACHER)
    await say(teacher, "我的课表")
    await answered(teacher, "单片机应用")


# --- 代课: the teacher names a substitute, who confirms in their own chat --------------------------------

SUBSTITUTE = "cuimin"  # 崔敏, 通识教育部
WALK_SUBSTITUTE_PNG = "/tmp/walk_substitute.png"


async def test_cover_walked_as_teacher_then_substitute(context, base_url):
    teacher = await open_chat(context, base_url, TEACHER)
    await say(teacher, "代课")
    for text in ("电工基础", "计网2401", slot(7, "第3-4节"), "实训楼A301"):
        await say(teacher, text)
    await say(teacher, "崔民")  # a wrong character: asked again, with the nearest names
    await answered(teacher, "通讯录中没有找到代课教师“崔民”")
    await answered(teacher, "崔敏（通识教育部，工号 cuimin）")
    await say(teacher, "崔敏")
    await say(teacher, "参加市级教学能力比赛")
    await answered(teacher, "代课教师：崔敏（通识教育部）")
    await say(teacher, "确认")
    await answered(teacher, "已请代课教师崔敏确认")

    substitute = await open_chat(context, base_url, SUBSTITUTE)
    card = card_with(substitute, "请确认代课：孙丽婷老师请您代课")
    weekday = re.compile(r"\d+月\d+日（周[一二三四五]）")
    await expect(card.locator(".field", has_text="日期")).to_contain_text(weekday)
    for words in ("第3-4节", "计网2401", "电工基础", "实训楼A301"):
        await expect(card).to_contain_text(words)
    await say(substitute, "待办")
    await answered(substitute, "您有 1 项待办")
    card = card_with(substitute, "请确认代课：孙丽婷老师请您代课")  # 待办 sends it again: tap the newest
    await tap(substitute, card, "确认", "已确认代课")
    await answered(substitute, "已确认代课")
    await substitute.screenshot(path=WALK_SUBSTITUTE_PNG, full_page=True)

    await told(teacher, "崔敏已确认代课")
    head = await open_chat(context, base_url, HEAD)
    head_card = card_with(head, "待审批：代课申请：电工基础（计网2401）")
    await expect(head_card).to_contain_text("崔敏")
