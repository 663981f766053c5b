"""Pages know who opens them: inside WeCom a page identifies its visitor with WeCom OAuth
(snsapi_base, through the fake WeCom's authorize host and auth/getuserinfo) and serves only
the person it belongs to or someone with rights over the run; outside WeCom the signed link
works as before. Every request is real HTTP into the app in production mode."""
from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import aiohttp
from sqlalchemy import func, select

from bot.platforms.wecom.oauth import SESSION_COOKIE, STATE_COOKIE, safe_return_path
from models import StoredFile
from tests.support.files import PNG
from tests.support.flows import fill_form, start_registration
from tests.support.harness import card_url
from tests.support.people import HEAD, LEADER, OFFICE_STAFF as OFFICE, OTHER_HEAD, SECRETARY_IT, TEACHER
from tests.support.identity import PLAIN_UA, PUBLIC
from tests.support.wecom_helpers import AGENT_ID, CORP_ID

REFUSAL = "发给另一位老师"


async def stored_files(w) -> int:
    async with w.core.db.session() as s:
        return (await s.execute(select(func.count(StoredFile.id)))).scalar_one()


async def test_forwarded_upload_link_inside_wecom_is_refused(wecom, browsers):
    w = wecom
    await start_registration(w)
    url = card_url(w.last_card("zhoujs"))
    assert "u=zhoujs" in url

    # tangwj, another counselor, was forwarded zhoujs's link and opens it in WeCom
    other = browsers("tangwj")
    status, html = await other.open(url)
    assert status == 403 and REFUSAL in html and "注册责任承诺书" not in html
    before = await stored_files(w)
    status, html = await other.upload(url, "承诺书.png", PNG)
    assert status == 403 and REFUSAL in html
    assert await stored_files(w) == before  # nothing stored in zhoujs's name

    # zhoujs opens it: one trip to WeCom, then the page; the next page needs no new trip
    me = browsers("zhoujs")
    status, html = await me.open(url)
    assert status == 200 and "注册责任承诺书" in html
    authorize = [u for u in me.visited if "/connect/oauth2/authorize" in u]
    assert len(authorize) == 1
    status, html = await me.open(url)
    assert status == 200 and len([u for u in me.visited if "/connect/oauth2/authorize" in u]) == 1
    status, html = await me.upload(url, "承诺书.png", PNG)
    assert status == 200 and await stored_files(w) == before + 1
    assert w.fake.oauth.exchanged == ["tangwj", "zhoujs"]


async def test_the_authorize_redirect_and_the_session_cookie(wecom, browsers):
    w = wecom
    await start_registration(w)
    url = card_url(w.last_card("zhoujs"))
    me = browsers("zhoujs")
    status, location, _ = await me.step(url)
    assert status == 302 and location.startswith(w.fake.base_url + "/connect/oauth2/authorize?")
    assert location.endswith("#wechat_redirect")
    q = {k: v[0] for k, v in parse_qs(urlsplit(location.split("#")[0]).query).items()}
    assert q["appid"] == CORP_ID and q["agentid"] == AGENT_ID and q["response_type"] == "code"
    assert q["scope"] == "snsapi_base" and q["redirect_uri"] == PUBLIC + "/oauth/wecom"
    assert len(q["state"]) >= 32 and q["state"] not in url
    state_cookie = me.cookie(STATE_COOKIE)
    assert state_cookie is not None and state_cookie["httponly"] and state_cookie["samesite"] == "Lax"

    status, back, _ = await me.step(location)  # WeCom identifies zhoujs and sends the browser back
    assert status == 302 and back.startswith(PUBLIC + "/oauth/wecom?code=")
    status, page, _ = await me.step(back)
    assert status == 302 and page == urlsplit(url).path + "?" + urlsplit(url).query
    session = me.cookie(SESSION_COOKIE)
    assert session is not None and session["httponly"] and session["samesite"] == "Lax"
    assert 0 < int(session["max-age"]) <= 24 * 3600
    assert "zhoujs" not in session.value  # signed and encoded, not a bare userid to edit

    # a tampered session is no session: WeCom is asked again
    forged = session.value.split(".")
    forged[2] = "dGFuZ3dq"  # base64 of tangwj
    me.jar.update_cookies({SESSION_COOKIE: ".".join(forged)}, response_url=aiohttp.client.URL(me.site))
    status, location, _ = await me.step(url)
    assert status == 302 and "/connect/oauth2/authorize" in location


async def test_state_is_bound_to_the_browser(wecom, browsers):
    """Login CSRF: a return URL made in the attacker's browser does nothing in the victim's."""
    w = wecom
    await start_registration(w)
    url = card_url(w.last_card("zhoujs"))
    attacker = browsers("tangwj")
    _, location, _ = await attacker.step(url)
    _, back, _ = await attacker.step(location)  # a valid code and state, for the attacker's session
    victim = browsers("zhoujs")
    status, html = await victim.open(back)
    assert status == 403 and "重新打开" in html
    assert victim.cookie(SESSION_COOKIE) is None

    # the right browser with a state that was changed on the way back is refused too
    status, location, _ = await victim.step(url)
    _, back, _ = await victim.step(location)
    parts = urlsplit(back)
    q = {k: v[0] for k, v in parse_qs(parts.query).items()}
    status, html = await victim.open(f"{PUBLIC}/oauth/wecom?code={q['code']}&state={q['state'][:-2]}xx")
    assert status == 403 and victim.cookie(SESSION_COOKIE) is None

    # the genuine return logs in; replaying it finds its state used up
    status, html = await victim.open(back)
    assert status == 200 and "注册责任承诺书" in html
    replay = browsers("zhoujs")
    status, html = await replay.open(back)
    assert status == 403 and replay.cookie(SESSION_COOKIE) is None


async def test_a_stale_code_is_refused(wecom, browsers):
    w = wecom
    await start_registration(w)
    url = card_url(w.last_card("zhoujs"))
    w.fake.oauth.code_ttl = -1  # every code is older than its 5 minutes by the time it is exchanged
    status, html = await browsers("zhoujs").open(url)
    assert status == 403 and "无法确认您的身份" in html


def test_return_path_stays_on_this_site():
    assert safe_return_path("/upload/3?u=zhoujs&exp=1&sig=ab") == "/upload/3?u=zhoujs&exp=1&sig=ab"
    for hostile in ("//evil.example/x", "/\\evil.example", "https://evil.example/", "evil", "", "/\r\nSet-Cookie: a"):
        assert safe_return_path(hostile) == "/"


async def test_outside_wecom_the_signed_link_works_as_before(wecom, browsers):
    w = wecom
    await start_registration(w)
    url = card_url(w.last_card("zhoujs"))
    status, html = await browsers("anyone", PLAIN_UA).open(url)
    assert status == 200 and "注册责任承诺书" in html
    assert w.fake.oauth.authorize_calls() == []
    # a link is still checked: another person's name in it breaks the signature
    forged = url.replace("u=zhoujs", "u=tangwj")
    status, _ = await browsers("anyone", PLAIN_UA).open(forged)
    assert status == 403


async def walk_to_record(w) -> dict:
    await fill_form(w)
    await w.say(TEACHER, "确认")
    await w.click(HEAD, w.last_card(HEAD), "同意")
    await w.click(LEADER, w.last_card(LEADER), "同意")
    await w.click(OFFICE[0], w.last_card(OFFICE[0]), "办结")
    return w.last_card(OFFICE[0])


async def test_record_links_name_their_person_and_serve_only_those_concerned(wecom, browsers):
    w = wecom
    record_card = await walk_to_record(w)
    url = card_url(record_card)
    assert url.startswith(PUBLIC + "/record/") and f"u={OFFICE[0]}" in url
    exp = int(parse_qs(urlsplit(url).query)["exp"][0])
    assert 29 * 86400 < exp - time.time() <= 30 * 86400  # 30 days, not 180

    await w.click(OFFICE[0], record_card, "办结")
    notice = w.cards(SECRETARY_IT)[0]  # the 教学秘书 of the class's 系部 gets the record, with her own link
    assert f"u={SECRETARY_IT}" in card_url(notice)

    # the teacher, an approver, 教务处 and the class's 教学秘书 may open a forwarded record; nobody else
    for userid in (OFFICE[0], OFFICE[1], TEACHER, HEAD, LEADER, SECRETARY_IT):
        status, html = await browsers(userid).open(url)
        assert status == 200 and "调停课" in html, userid
    for stranger in (OTHER_HEAD, "luoxy", "linms"):
        b = browsers(stranger)
        status, html = await b.open(url)
        assert status == 403 and REFUSAL in html and "电工基础" not in html, stranger
        path = urlsplit(url)
        status, _ = await b.open(f"{path.path}.xlsx?{path.query}")
        assert status == 403, stranger

    # outside WeCom the link is the credential, as before
    status, html = await browsers("anyone", PLAIN_UA).open(url)
    assert status == 200 and "电工基础" in html
