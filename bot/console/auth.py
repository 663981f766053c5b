"""Who is at the console, and whether they may be.

One identity for pages and console: the signed session cookie of
``bot/web_session.py`` (HttpOnly, SameSite=Lax, 8 hours). It is set by a
platform's OAuth inside its client, by a platform's 扫码登录 on a plain PC browser
(a :class:`QrLogin` the composition root hands over: WeCom's ``wwlogin/sso/login``
then ``auth/getuserinfo``), or by the demo's picker. The console imports no platform.
Every POST carries a CSRF token (bot/console/web.py).
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Protocol

from aiohttp import web

from models import Person

STAFF_ROLES = ("教务处", "教务处分管领导")  # see every 系部
DEPARTMENT_ROLES = ("系部主任", "教学秘书")  # see their own 系部
QR_RETURN = "/console/login/wecom"
QR_STATE_COOKIE = "campusbot_console_qr"
QR_STATE_TTL = 300


class QrLogin(Protocol):
    """A platform's 扫码登录 for a plain PC browser (WeCom: ``WeComPlatform``)."""

    def qr_login_url(self, redirect_uri: str, state: str) -> str:
        """The platform's QR page, which comes back to ``redirect_uri`` with ``code`` and ``state``."""

    async def exchange_code(self, code: str) -> str | None:
        """The one-time code → our userid, or None."""


@dataclass(frozen=True)
class Viewer:
    """A person let in, and how far they see."""

    person: Person
    department: str | None  # None: every 系部

    @property
    def userid(self) -> str:
        return self.person.userid

    @property
    def is_office(self) -> bool:
        """教务处 staff act (催办, 启动, 转派…); leaders and 系部 people look."""
        return self.person.has_role("教务处")

    def sees(self, department: str) -> bool:
        return self.department is None or department == self.department


def viewer_for(person: Person | None) -> Viewer | None:
    """None for anyone whose roles give no view of the console."""
    if person is None:
        return None
    if person.has_role(*STAFF_ROLES):
        return Viewer(person, None)
    if person.has_role(*DEPARTMENT_ROLES):
        return Viewer(person, person.department)
    return None


def qr_login_redirect(qr: QrLogin, key: bytes, return_url: str) -> web.Response:
    """扫码登录: the platform's QR page, coming back to :data:`QR_RETURN` with a code; the ``state``
    is also kept, signed, in a 5-minute cookie of this browser."""
    state = secrets.token_urlsafe(24)
    exp = str(int(time.time()) + QR_STATE_TTL)
    url = qr.qr_login_url(return_url, state)
    response = web.Response(status=302, headers={"Location": url, "Cache-Control": "no-store"})
    value = f"{exp}.{state}.{_sign(key, 'qr', state, exp)}"
    response.set_cookie(QR_STATE_COOKIE, value, max_age=QR_STATE_TTL, path=QR_RETURN, httponly=True,
                        samesite="Lax", secure=return_url.startswith("https://"))
    return response


def qr_state_ok(request: web.Request, key: bytes) -> bool:
    """The ``state`` WeCom returns is the one this browser was sent with, still fresh."""
    parts = request.cookies.get(QR_STATE_COOKIE, "").split(".")
    if len(parts) != 3 or not parts[0].isdigit() or int(parts[0]) < time.time():
        return False
    exp, state, sig = parts
    return hmac.compare_digest(_sign(key, "qr", state, exp), sig) and \
        hmac.compare_digest(state.encode(), request.query.get("state", "").encode("utf-8", "replace"))


def _sign(key: bytes, *parts: str) -> str:
    return hmac.new(key, "|".join(parts).encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
