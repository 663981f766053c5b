"""The console in a real Chromium against the demo served on 127.0.0.1: the picker, the 总览 with a
run started in the local chat, and its run page. Screenshots at desktop size are left in /tmp
(test artefacts, not committed). Skipped when Debian's chromium is not installed."""
from __future__ import annotations

import uuid

import aiohttp
from pathlib import Path

import pytest

from tests.support.browser import ARGS, CHROMIUM

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} not installed (apt install chromium)")
playwright_api = pytest.importorskip("playwright.async_api", reason="playwright (python) not installed")

expect = playwright_api.expect
DESKTOP = {"width": 1366, "height": 900}
OVERVIEW_PNG = "/tmp/console_overview.png"
RUN_PNG = "/tmp/console_run.png"


@pytest.fixture
async def desktop():
    async with playwright_api.async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        ctx = await browser.new_context(viewport=DESKTOP, locale="zh-CN")
        ctx.set_default_timeout(15_000)
        yield ctx
        await ctx.close()
        await browser.close()


async def chat(base: str, userid: str, text: str) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{base}/devchat/api/send", json={"userid": userid, "text": text,
                                                               "client_id": uuid.uuid4().hex}) as resp:
            assert resp.status == 200, await resp.text()


async def test_login_overview_and_run_page_in_chromium(base_url, desktop):  # noqa: F811 - fixture
    await chat(base_url, "wangjw", "启动 1.1")
    page = await desktop.new_page()
    await page.goto(f"{base_url}/console")
    await expect(page).to_have_url(f"{base_url}/console/login")
    await expect(page.get_by_role("button", name="以孙丽婷登录")).to_have_count(0)  # a teacher is not offered
    await page.get_by_role("button", name="以王建伟登录").click()

    await expect(page.locator("h1")).to_contain_text("本学期总览")
    runs = page.locator("#runs")
    await expect(runs.get_by_role("link", name="三大注册")).to_be_visible()  # the workers started it meanwhile
    await expect(page.locator("#weeks")).to_contain_text("第1周")
    await page.screenshot(path=OVERVIEW_PNG, full_page=True)

    await runs.get_by_role("link", name="三大注册").click()
    await expect(page.locator("h1")).to_contain_text("三大注册")
    await expect(page.locator("#steps")).to_contain_text("拟定注册方案")
    await page.get_by_role("button", name="催办").click()
    await expect(page.locator(".flash.ok")).to_contain_text("已催办")
    await expect(page.locator("#audit")).to_contain_text("催办")
    await page.screenshot(path=RUN_PNG, full_page=True)
