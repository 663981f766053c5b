"""Who opens a page inside WeCom: OAuth ``snsapi_base``, then a signed session cookie.

A link from a card names its person, but a forwarded link would let anyone act
as that person. Inside the WeCom client (its User-Agent says ``wxwork``) a page
therefore asks WeCom who the visitor is: a redirect to the authorize page, which
comes straight back to :data:`RETURN_PATH` with a one-time code, exchanged at
``auth/getuserinfo`` for the userid. The answer is kept in an HttpOnly,
SameSite=Lax, expiring cookie signed with ``CAMPUSBOT_SECRET_KEY`` (``bot/web_session.py``,
shared with the console), so the next page needs no new redirect.

CSRF: the ``state`` sent to WeCom is random and also kept, signed, in a
short-lived cookie of this browser; the return must carry both. The page to go
back to lives only in that signed cookie and must be a path on this site.
"""
from __future__ import annotations

import hmac
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

from bot.web_session import SESSION_COOKIE, SESSION_TTL, safe_return_path, session_userid, set_session
from bot.web_session import pack as _pack
from bot.web_session import sign as _sign
from bot.web_session import unpack as _unpack

log = logging.getLogger(__name__)
__all__ = ["SESSION_COOKIE", "SESSION_TTL", "session_userid", "set_session", "authorize_redirect",
           "inside_wecom", "safe_return_path", "setup_oauth_routes", "userid_for_code"]

RETURN_PATH = "/oauth/wecom"
STATE_COOKIE = "campusbot_oauth"
STATE_TTL = 300  # a WeCom code lives 5 minutes too

Exchange = Callable[[str], Awaitable[str | None]]
Refusal = Callable[[str, int], web.Response]


def inside_wecom(request: web.Request) -> bool:
    """The WeCom client (phone or desktop) names itself ``wxwork`` in its User-Agent."""
    return "wxwork" in request.headers.get("User-Agent", "").lower()


# -- the authorize redirect and its return ------------------------------------------------


def authorize_redirect(request: web.Request, settings: Any, base_url: str) -> web.Response:
    """Send the visitor to WeCom to be identified, then back to this very page."""
    state = secrets.token_urlsafe(24)
    back = request.rel_url.path_qs
    exp = str(int(time.time()) + STATE_TTL)
    key = settings.signing_key
    query = urlencode({"appid": settings.wecom_corp_id, "redirect_uri": base_url + RETURN_PATH,
                       "response_type": "code", "scope": "snsapi_base", "state": state,
                       "agentid": settings.wecom_agent_id})
    url = f"{settings.wecom_oauth_base.rstrip('/')}/connect/oauth2/authorize?{query}#wechat_redirect"
    response = web.Response(status=302, headers={"Location": url, "Cache-Control": "no-store"})
    response.set_cookie(STATE_COOKIE, _pack(exp, _sign(key, "oauth", state, back, exp), state, back),
                        max_age=STATE_TTL, path=RETURN_PATH, httponly=True, samesite="Lax",
                        secure=base_url.startswith("https://"))
    return response


def setup_oauth_routes(app: web.Application, settings: Any, exchange: Exchange, refuse: Refusal,
                       *, secure: bool) -> None:
    """``GET /oauth/wecom?code&state``: WeCom's return; sets the session and goes back to the page."""

    async def oauth_return(request: web.Request) -> web.Response:
        key = settings.signing_key
        fields = _unpack(request.cookies.get(STATE_COOKIE, ""), 4)
        state = request.query.get("state", "")
        if fields is None:
            return refuse("login_expired", 403)
        exp, sig, kept_state, back = fields
        if not exp.isdigit() or int(exp) < time.time() \
                or not hmac.compare_digest(_sign(key, "oauth", kept_state, back, exp), sig) \
                or not hmac.compare_digest(kept_state.encode(), state.encode("utf-8", "replace")):
            return refuse("login_expired", 403)
        code = request.query.get("code", "")
        userid = await exchange(code) if code else None
        if not userid:
            return refuse("login_failed", 403)
        response = web.Response(status=302, headers={"Location": safe_return_path(back),
                                                     "Cache-Control": "no-store"})
        set_session(response, key, userid, secure=secure)
        response.del_cookie(STATE_COOKIE, path=RETURN_PATH)
        return response

    app.router.add_get(RETURN_PATH, oauth_return)


async def userid_for_code(client: Any, http: aiohttp.ClientSession, api_base: str, code: str) -> str | None:
    """``auth/getuserinfo``: the member's userid for a one-time code; None if WeCom says no."""
    try:
        token = await client.access_token()
        async with http.get(api_base.rstrip("/") + "/cgi-bin/auth/getuserinfo",
                            params={"access_token": token, "code": code},
                            timeout=aiohttp.ClientTimeout(total=10)) as resp:
            data = await resp.json(content_type=None)
    except Exception as exc:  # noqa: BLE001 - any failure means "not identified": the page asks to reopen
        log.warning("wecom oauth: getuserinfo failed: %s", type(exc).__name__)
        return None
    if not isinstance(data, dict) or data.get("errcode", 0) != 0:
        log.info("wecom oauth: code refused (errcode %s)", data.get("errcode") if isinstance(data, dict) else "?")
        return None
    userid = data.get("userid") or data.get("UserId")  # a non-member gets only an openid: not one of ours
    return userid if isinstance(userid, str) and userid else None
