"""The signed session cookie every page shares: who this browser is, for 8 hours.

Set by whatever identified the visitor (a platform's OAuth inside its client, the
console's 扫码登录 or its demo picker), read by pages and the console alike. It is
HttpOnly, SameSite=Lax and signed with ``CAMPUSBOT_SECRET_KEY``; nothing in it is
trusted without the signature and the expiry.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import time

from aiohttp import web

SESSION_COOKIE = "campusbot_session"
SESSION_TTL = 8 * 3600  # a working day: the teacher opens several pages without a new login


def session_userid(request: web.Request, key: bytes, now: float | None = None) -> str | None:
    """The visitor identified for this browser, while the signed cookie is fresh."""
    fields = unpack(request.cookies.get(SESSION_COOKIE, ""), 3)
    if fields is None:
        return None
    exp, sig, userid = fields
    if not exp.isdigit() or not hmac.compare_digest(sign(key, "session", userid, exp), sig):
        return None
    if int(exp) < (now or time.time()):
        return None
    return userid


def set_session(response: web.StreamResponse, key: bytes, userid: str, *, secure: bool) -> None:
    exp = str(int(time.time()) + SESSION_TTL)
    value = pack(exp, sign(key, "session", userid, exp), userid)
    response.set_cookie(SESSION_COOKIE, value, max_age=SESSION_TTL, path="/", httponly=True, samesite="Lax",
                        secure=secure)


def sign(key: bytes, *parts: str) -> str:
    return hmac.new(key, "|".join(parts).encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


def pack(exp: str, sig: str, *texts: str) -> str:
    """``exp.sig.b64(text)…``: a cookie value that survives any text."""
    return ".".join([exp, sig, *(base64.urlsafe_b64encode(t.encode()).decode().rstrip("=") for t in texts)])


def unpack(value: str, count: int) -> list[str] | None:
    parts = value.split(".")
    if len(parts) != count or len(value) > 4096:
        return None
    try:
        texts = [base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)).decode() for p in parts[2:]]
    except (ValueError, UnicodeDecodeError):
        return None
    return [parts[0], parts[1], *texts]


def safe_return_path(path: str) -> str:
    """Only a path on this site: never ``//host``, ``/\\host`` or a scheme (no open redirect)."""
    if not path.startswith("/") or path.startswith("//") or "\\" in path or any(ord(c) < 0x20 for c in path):
        return "/"
    return path
