"""Who opens a page inside DingTalk: 免登 (``requestAuthCode``), then the shared session cookie.

A link from a card names its person, but a forwarded link would let anyone act as
that person. Inside the DingTalk client (its User-Agent says ``DingTalk``) a page
without a session first answers a small page that asks the client for a one-time
code (the dd JS API's ``requestAuthCode``, with the corp id and the app's client id)
and posts it to :data:`RETURN_PATH`. The server exchanges it at
``topapi/v2/user/getuserinfo`` for the DingTalk userid, maps that through
``person_accounts`` and sets the signed session cookie (``bot/web_session.py``, shared
with WeCom's OAuth and the console), then the page reloads as that person.

CSRF: the page carries a random ``state`` that is also kept, signed with the page to go
back to, in a short-lived HttpOnly cookie of this browser; the post must carry both.
"""
from __future__ import annotations

import hmac
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.platforms.dingtalk.client import DingTalkAPIError, DingTalkClient, DingTalkTransientError
from bot.web_session import pack, safe_return_path, set_session, sign, unpack

log = logging.getLogger(__name__)

RETURN_PATH = "/auth/dingtalk"
STATE_COOKIE = "campusbot_ddlogin"
STATE_TTL = 300  # a DingTalk code lives 5 minutes too
GETUSERINFO = "/topapi/v2/user/getuserinfo"
LOGIN_PAGE = "dingtalk/login.html"

Exchange = Callable[[str], Awaitable[str | None]]
Refusal = Callable[[str, int], web.Response]


def inside_dingtalk(request: web.Request) -> bool:
    """The DingTalk client (phone or desktop) names itself ``DingTalk`` in its User-Agent."""
    return "dingtalk" in request.headers.get("User-Agent", "").lower()


def login_page(request: web.Request, html: Callable[..., str], key: bytes, *, secure: bool) -> web.Response:
    """The page that asks the DingTalk client who this is, then comes back to this very page."""
    state = secrets.token_urlsafe(24)
    back = request.rel_url.path_qs
    exp = str(int(time.time()) + STATE_TTL)
    response = web.Response(text=html(LOGIN_PAGE, state=state, post_url=RETURN_PATH), content_type="text/html",
                            headers={"Cache-Control": "no-store"})
    response.set_cookie(STATE_COOKIE, pack(exp, sign(key, "ddlogin", state, back, exp), state, back),
                        max_age=STATE_TTL, path=RETURN_PATH, httponly=True, samesite="Lax", secure=secure)
    return response


def setup_login_routes(app: web.Application, key: Callable[[], bytes], exchange: Exchange, refuse: Refusal,
                       *, secure: bool) -> None:
    """``POST /auth/dingtalk`` ``{code, state}`` (JSON): sets the session, answers ``{next}``."""

    async def login_return(request: web.Request) -> web.Response:
        fields = unpack(request.cookies.get(STATE_COOKIE, ""), 4)
        try:
            body = json.loads(await request.text())
        except ValueError:
            body = None
        if fields is None or not isinstance(body, dict):
            return refuse("dd_login_expired", 403)
        exp, sig, kept_state, back = fields
        state = str(body.get("state") or "")
        if not exp.isdigit() or int(exp) < time.time() \
                or not hmac.compare_digest(sign(key(), "ddlogin", kept_state, back, exp), sig) \
                or not hmac.compare_digest(kept_state.encode(), state.encode("utf-8", "replace")):
            return refuse("dd_login_expired", 403)
        code = str(body.get("code") or "")
        userid = await exchange(code) if code else None
        if not userid:
            return refuse("dd_login_failed", 403)
        response = web.json_response({"next": safe_return_path(back)}, headers={"Cache-Control": "no-store"})
        set_session(response, key(), userid, secure=secure)
        response.del_cookie(STATE_COOKIE, path=RETURN_PATH)
        return response

    app.router.add_post(RETURN_PATH, login_return)


async def account_for_code(client: DingTalkClient | None, code: str) -> str | None:
    """``topapi/v2/user/getuserinfo``: the member's DingTalk userid for a one-time code; None if DingTalk says no."""
    if client is None:
        return None
    try:
        answer = await client.oapi(GETUSERINFO, {"code": code})
    except (DingTalkAPIError, DingTalkTransientError) as exc:
        log.info("dingtalk 免登: code refused (%s)", getattr(exc, "code", type(exc).__name__))
        return None
    userid = (answer.get("result") or {}).get("userid")
    return userid if isinstance(userid, str) and userid else None
