"""The local chat in a real Chromium, against the app served on 127.0.0.1:
the picker, a help round trip, and a 调课 approved in a second tab.

Skipped when Debian's chromium is not installed (we never download a browser).
"""
from __future__ import annotations

from pathlib import Path

import pytest

from bot.app import CORE, create_app
from bot.config import Settings
from tests.test_devchat import HEAD, TEACHER, seed

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic", "--no-proxy-server"]
PHONE = {"width": 390, "height": 844}
SCREENSHOT = "/tmp/devchat.png"
REPLY_MS = 15_000  # worker + 1 s polling, with room for a slow CI box

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} not installed (apt install chromium)")
playwright_api = pytest.importorskip("playwright.async_api", reason="playwright (python) not installed")
expect = playwright_api.expect


@pytest.fixture
async def base_url(aiohttp_server, tmp_path: Path) -> str:
    """The demo app with its real workers, on a free port."""
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/t.db", data_dir=tmp_path)
    app = create_app(settings, mode="demo")
    server = await aiohttp_server(app, host="127.0.0.1")
    await seed(app[CORE])
    return str(server.make_url("")).rstrip("/")


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


async def say(page, text: str) -> None:
    """Type and send, then wait for the bot's next message (not the greeting that may still arrive)."""
    before = await page.locator(".row.out").count()
    await page.fill("#text", text)
    await page.press("#text", "Enter")
    await expect(page.locator(".row.in .bubble.text").last).to_have_text(text)
    await page.wait_for_function("n => document.querySelectorAll('.row.out').length > n", arg=before,
                                 timeout=REPLY_MS)


async def open_chat(context, base_url: str, userid: str):
    page = await context.new_page()
    await page.goto(f"{base_url}/chat/{userid}")
    # an empty chat sends "enter" and the bot greets
    await expect(page.locator(".row.out").first).to_contain_text("老师好")
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

    for text in ("调课", "电工基础", "机电2401", "12月3日 第3-4节", "实训楼A301", "12月5日 第1-2节", "不变",
                 "参加市级教学能力比赛"):
        await say(teacher, text)
    await expect(teacher.locator(".row.out .bubble").last).to_contain_text("请核对调停课申请")
    await say(teacher, "确认")
    await expect(teacher.locator(".row.out .bubble").last).to_contain_text("已提交")

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
