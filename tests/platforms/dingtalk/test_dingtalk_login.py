"""Pages inside DingTalk know who opens them (免登): the page asks the DingTalk client for a one-time
code (``requestAuthCode``), posts it, the server exchanges it at ``topapi/v2/user/getuserinfo`` on the
fake DingTalk and maps the DingTalk userid through person_accounts. Real HTTP into the app in
production mode with only DingTalk configured; the last test runs the page's script in Chromium."""
from __future__ import annotations

import json
import re
from pathlib import Path

import aiohttp
import pytest

from bot import accounts
from bot.platforms.dingtalk.login import RETURN_PATH, STATE_COOKIE
from bot.web_session import SESSION_COOKIE
from tests.support.browser import ARGS, CHROMIUM
from tests.support.flows import start_registration
from tests.support.harness import local_path

DINGTALK_UA = ("Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile "
               "Safari/537.36 AliApp(DingTalk/7.6.0) com.alibaba.android.rimet/7.6.0 Channel/700159 language/zh-CN")
PLAIN_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
REFUSAL = "发给另一位老师"
PAGE = "注册责任承诺书"


class DingTalkClient:
    """One person's DingTalk client opening our pages: its own cookies; the dd JS API's part is
    played by asking the fake DingTalk for this person's code, as ``requestAuthCode`` would."""

    def __init__(self, w, account: str, ua: str = DINGTALK_UA) -> None:
        self.w, self.account, self.ua = w, account, ua
        self.site = str(w.client.make_url("")).rstrip("/")
        self.jar = aiohttp.CookieJar(unsafe=True)
        self.http = aiohttp.ClientSession(cookie_jar=self.jar, headers={"User-Agent": ua})

    async def get(self, path: str) -> tuple[int, str]:
        async with self.http.get(self.site + path, allow_redirects=False) as resp:
            return resp.status, await resp.text()

    async def post_code(self, state: str, code: str | None = None) -> tuple[int, str]:
        body = {"code": code if code is not None else self.w.fake.issue_code(self.account), "state": state}
        async with self.http.post(self.site + RETURN_PATH, json=body) as resp:
            return resp.status, await resp.text()

    async def open(self, path: str) -> tuple[int, str]:
        """The page; on the 免登 page, what its script does: get a code, post it, load what it answers."""
        status, html = await self.get(path)
        if "requestAuthCode" not in html:
            return status, html
        status, answer = await self.post_code(state_of(html))
        if status != 200:
            return status, answer
        return await self.get(json.loads(answer)["next"])

    def cookie(self, name: str):
        return next((c for c in self.jar if c.key == name), None)


def state_of(html: str) -> str:
    return re.search(r'var state = "([^"]+)"', html).group(1)


@pytest.fixture
async def clients(dingtalk):
    opened: list[DingTalkClient] = []

    def make(account: str, ua: str = DINGTALK_UA) -> DingTalkClient:
        opened.append(DingTalkClient(dingtalk, account, ua))
        return opened[-1]

    yield make
    for c in opened:
        await c.http.close()


async def upload_path(w) -> str:
    await start_registration(w)
    [send] = [c for c in w.fake.sends if c["userIds"] == ["zhoujs"] and c["msgKey"] == "sampleActionCard"]
    url = send["msgParam"]["singleURL"]  # the ActionCard's link button: her upload page
    assert "u=zhoujs" in url, url
    return local_path(url)


async def test_forwarded_link_inside_dingtalk_is_refused_and_its_owner_is_served(dingtalk, clients):
    w = dingtalk
    path = await upload_path(w)

    status, html = await clients("zhoujs").get(path)  # first the 免登 page, not the upload page
    assert status == 200 and "requestAuthCode" in html and PAGE not in html
    assert w.fake.corp_id in html and w.fake.client_id in html and "/dingtalk.open.js" in html

    status, html = await clients("tangwj").open(path)  # forwarded to another counselor
    assert status == 403 and REFUSAL in html and PAGE not in html

    me = clients("zhoujs")
    status, html = await me.open(path)
    assert status == 200 and PAGE in html
    session = me.cookie(SESSION_COOKIE)
    assert session is not None and session["httponly"] and "zhoujs" not in session.value
    status, html = await me.get(path)  # the next page needs no new code
    assert status == 200 and PAGE in html
    assert w.fake.exchanged == ["tangwj", "zhoujs"]

    status, html = await clients("zhoujs", PLAIN_UA).get(path)  # outside DingTalk the signed link stands
    assert status == 200 and PAGE in html


async def test_the_dingtalk_account_is_mapped_to_our_userid(dingtalk, clients):
    w = dingtalk
    path = await upload_path(w)
    async with w.core.db.session() as s:
        await accounts.set_accounts(s, "zhoujs", {"dingtalk": "dt-0077"})
    status, html = await clients("dt-0077").open(path)
    assert status == 200 and PAGE in html
    status, html = await clients("zhoujs").open(path)  # her userid is no DingTalk account of ours any more
    assert status == 403 and REFUSAL in html


async def test_codes_work_once_and_the_state_is_bound_to_the_browser(dingtalk, clients):
    w = dingtalk
    path = await upload_path(w)
    victim, attacker = clients("zhoujs"), clients("tangwj")
    _, html = await victim.get(path)
    state = state_of(html)
    code = w.fake.issue_code("zhoujs")
    _, other = await attacker.get(path)
    assert (await attacker.post_code(state_of(other), "not-a-code"))[0] == 403
    assert (await attacker.post_code(state, code))[0] == 403  # the victim's state, without her cookie
    assert attacker.cookie(SESSION_COOKIE) is None
    assert (await victim.post_code(state + "x", code))[0] == 403
    status, answer = await victim.post_code(state, code)
    assert status == 200 and json.loads(answer)["next"] == path
    assert victim.cookie(STATE_COOKIE) is None
    _, html = await victim.get(path)  # signed in now; a used code is refused even with a fresh state
    _, again = await clients("zhoujs").get(path)
    status, _ = await clients("zhoujs").post_code(state_of(again), code)
    assert status == 403


async def test_a_post_without_a_session_inside_dingtalk_is_asked_to_reopen(dingtalk, clients):
    w = dingtalk
    path = await upload_path(w)
    c = clients("zhoujs")
    async with c.http.post(c.site + path, data={"x": "1"}) as resp:
        assert resp.status == 403 and "请重新打开" in await resp.text()


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} not installed")
async def test_the_login_page_script_signs_in_inside_chromium(dingtalk):
    """The real page in a real browser with DingTalk's User-Agent: the dd JS API (the fake's) hands a code,
    the script posts it and lands on the upload page as the person logged in to DingTalk."""
    playwright_api = pytest.importorskip("playwright.async_api", reason="playwright (python) not installed")
    w = dingtalk
    path = await upload_path(w)
    w.fake.login_user = "zhoujs"
    expect = playwright_api.expect
    async with playwright_api.async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = await (await browser.new_context(user_agent=DINGTALK_UA, locale="zh-CN")).new_page()
            await page.goto(str(w.client.make_url(path)))
            await expect(page.locator("body")).to_contain_text(PAGE, timeout=15_000)
            assert w.fake.exchanged == ["zhoujs"]
            w.fake.login_user = "tangwj"  # a forwarded link opened in someone else's DingTalk
            other = await (await browser.new_context(user_agent=DINGTALK_UA)).new_page()
            await other.goto(str(w.client.make_url(path)))
            await expect(other.locator("body")).to_contain_text(REFUSAL, timeout=15_000)
            assert w.fake.exchanged == ["zhoujs", "tangwj"]
        finally:
            await browser.close()
