"""The local chat in a real Chromium, against the app served on 127.0.0.1:
the picker, a help round trip, a 调课 approved in a second tab, the whole
调停课 walked through both approvals, 教务处 and the 教学秘书 (with the record
page opened from the card), and a 驳回 with a reason typed in chat.

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
    await expect(done).to_have_text("已同意")
    await expect(done).to_be_disabled()
    await expect(card.locator(".card-btn:not(.done)")).to_have_count(0)
    await head.screenshot(path=SCREENSHOT)


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


async def told(teacher, step_title: str) -> None:
    """The teacher heard that a step of her request is done (the step's title, then 已完成)."""
    done = re.compile(re.escape(step_title) + r"[^，。]{0,40}已完成")
    await expect(teacher.locator(".row.out", has_text=done)).to_have_count(1)


async def tap(page, card, button: str, done: str) -> None:
    """Tap a card's button; the tap shows as the person's bubble and the card greys to ``done``."""
    btn = card.locator(".card-btn:not(.done)", has_text=button).first
    await expect(btn).to_be_enabled()
    await btn.click()
    await expect(page.locator(".row.in .bubble.click").last).to_have_text(f"点击了 {button}")
    await expect(card.locator(".card-btn.done")).to_have_text(done)
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
    await tap(head, card, "同意", "已同意")
    await told(teacher, "系部主任审核签字")

    # 2. 教务处分管领导 赵国民: 陈志荣's approval is on the card
    card = card_with(leader, "待审批：调课申请：电工基础（计网2401）")
    await expect(card.locator(".field", has_text="已审批")).to_contain_text("陈志荣 同意")
    await expect(card).to_contain_text("电工基础")
    await tap(leader, card, "同意", "已同意")
    await told(teacher, "教务处分管领导审核签字")

    # 3. 教务处 王建伟: adjust the timetable, then the record (its card links to the signed page)
    await tap(office, card_with(office, "在教务系统中调整"), "已完成", "已完成")
    await told(teacher, "在教务系统中调整上课时间，地点，教师等")
    card = card_with(office, "打印调停课记录表")
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
    await expect(table.locator("tr", has_text="系部主任审核签字")).to_contain_text("陈志荣 同意")
    await expect(table.locator("tr", has_text="教务处分管领导审核签字")).to_contain_text("赵国民 同意")
    record_no = (await table.locator("tr", has_text="记录编号").locator("td").inner_text()).strip()
    assert record_no
    await record.screenshot(path=WALK_RECORD_PNG, full_page=True)
    await record.close()
    await tap(office, card, "已完成", "已完成")
    await told(teacher, "打印调停课记录表，并盖教务处公章，由任课教师交到学生所在系部")

    # 4. 信息工程系 教学秘书 郭燕: the record notice (same record) and the card to confirm 已通知班级
    notice = card_with(secretary, "通知：调课申请：电工基础（计网2401）")
    await expect(notice).to_contain_text("将调停课记录截图分发到学生所在系教学秘书")
    await expect(notice).to_contain_text(record_no)
    same_record = re.escape(href.split("?")[0]) + rf"\?u={SECRETARY}&exp=\d+&sig=\w+$"  # her own link
    await expect(notice.locator("a.card-link")).to_have_attribute("href", re.compile(same_record))
    confirm = card_with(secretary, "请确认：调课申请：电工基础（计网2401）")
    await expect(confirm).to_contain_text("通知到调课班级")
    await tap(secretary, confirm, "已通知班级", "已确认")

    # 5. the teacher heard of every step and, finally, that it is all done
    await told(teacher, "教学秘书将调停课情况通知到调课班级")
    await expect(bot_says.filter(has_text="已全部办结")).to_have_count(1)
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
    await expect(card.locator(".card-btn.done")).to_have_text("已驳回")

    refusal = teacher.locator(".row.out", has_text="本周已有两次调课")
    await expect(refusal).to_have_count(1)
    await expect(refusal).to_contain_text("驳回")
