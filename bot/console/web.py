"""Request plumbing the console's routes share: the gate, CSRF, flash notes and pages."""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from bot.console.auth import Viewer, viewer_for
from bot.console.forms import PostedForm, read_form
from bot.page_access import visitor
from bot.web_session import session_userid
from models import Person

if TYPE_CHECKING:
    from bot.core import BotCore

CSRF_COOKIE = "campusbot_console_csrf"
FLASH_COOKIE = "campusbot_console_flash"
TEXTS = "console/texts.j2"
LOGIN_PATH = "/console/login"


class Console:
    """The console's view of one app: its core, and whether the demo's picker is on."""

    def __init__(self, core: "BotCore", *, demo: bool, qr: bool) -> None:
        self.core = core
        self.demo = demo
        self.qr = qr  # WeCom is configured: 扫码登录 on a plain browser
        self.key = core.settings.signing_key
        self.secure = core.settings.public_url.startswith("https://")

    # -- who is here --------------------------------------------------------------------
    async def gate(self, request: web.Request) -> Viewer | web.Response:
        """The viewer, or where they must go first (login), or a polite refusal."""
        userid = session_userid(request, self.key)
        if not userid:
            if request.method != "GET":
                return self.message("login_expired", 403)
            found = await visitor(request, self.core)  # inside a platform's client: its own login (OAuth)
            if isinstance(found, web.Response):
                return found
            if not found:
                raise web.HTTPSeeOther(LOGIN_PATH)
            userid = found
        async with self.core.db.session() as s:
            person = await s.get(Person, userid)
        viewer = viewer_for(person)
        if viewer is None:
            return self.message("not_allowed", 403, name=person.name if person else "")
        return viewer

    async def office_post(self, request: web.Request) -> Viewer | web.Response:
        """A form that changes something: its CSRF token, a viewer, and one of 教务处 (others read only)."""
        if not await self.csrf_ok(request):
            return self.message("csrf", 403)
        viewer = await self.gate(request)
        if isinstance(viewer, web.Response):
            return viewer
        if not viewer.is_office:
            return self.message("read_only", 403)
        return viewer

    async def office_upload(self, request: web.Request, folder: Path) -> tuple[Viewer, PostedForm] | web.Response:
        """As ``office_post`` for a multipart form, its files saved in ``folder`` (deleted when refused)."""
        viewer = await self.gate(request)
        if isinstance(viewer, web.Response):
            return viewer
        form = await read_form(request, folder)
        if form is None or not self.csrf_matches(request, form.one("csrf")):
            if form is not None:
                form.discard()
            return self.message("csrf", 403)
        if not viewer.is_office:
            form.discard()
            return self.message("read_only", 403)
        return viewer, form

    # -- CSRF: a random cookie of this browser and its HMAC in every form -------------------
    def csrf_cookie(self, request: web.Request) -> str:
        value = request.cookies.get(CSRF_COOKIE, "")
        return value if 16 <= len(value) <= 64 else ""

    def csrf_for(self, request: web.Request) -> tuple[str, str]:
        """(cookie value, form token); a new cookie value when the browser has none."""
        value = self.csrf_cookie(request) or secrets.token_urlsafe(24)
        return value, self._sign("csrf", value)

    async def csrf_ok(self, request: web.Request) -> bool:
        form = await request.post()
        return self.csrf_matches(request, str(form.get("csrf", "")))

    def csrf_matches(self, request: web.Request, sent: str) -> bool:
        """``sent``: the token a form carried (a multipart form is read by bot/console/forms.py)."""
        value = self.csrf_cookie(request)
        return bool(value and sent) and hmac.compare_digest(self._sign("csrf", value), sent)

    # -- pages ------------------------------------------------------------------------------
    def page(self, request: web.Request, name: str, status: int = 200, **ctx) -> web.Response:
        cookie, token = self.csrf_for(request)
        flash = self._read_flash(request)
        html = self.core.renderer.page(name, csrf=token, flash=flash, **ctx)
        response = web.Response(text=html, content_type="text/html", status=status,
                                headers={"Cache-Control": "no-store", "X-Frame-Options": "SAMEORIGIN"})
        if cookie != self.csrf_cookie(request):
            response.set_cookie(CSRF_COOKIE, cookie, path="/console", httponly=True, samesite="Lax",
                                secure=self.secure)
        if flash:
            response.del_cookie(FLASH_COOKIE, path="/console")
        return response

    def message(self, which: str, status: int, **values) -> web.Response:
        title = self.core.renderer.macro(TEXTS, f"{which}_title", **values)
        text = self.core.renderer.macro(TEXTS, f"{which}_text", **values)
        return web.Response(text=self.core.renderer.page("console/message.html", title=title, text=text),
                            content_type="text/html", status=status, headers={"Cache-Control": "no-store"})

    def note(self, which: str, **values) -> str:
        return self.core.renderer.macro(TEXTS, which, **values)

    def back(self, location: str, text: str, ok: bool = True) -> web.Response:
        """After a POST: back to the page (303), carrying one signed line to show there."""
        response = web.HTTPSeeOther(location)
        raw = base64.urlsafe_b64encode((("1" if ok else "0") + text).encode()).decode()
        response.set_cookie(FLASH_COOKIE, f"{raw}.{self._sign('flash', raw)}", path="/console", httponly=True,
                            samesite="Lax", max_age=60, secure=self.secure)
        return response

    def _read_flash(self, request: web.Request) -> dict | None:
        raw, _, sig = request.cookies.get(FLASH_COOKIE, "").partition(".")
        if not raw or not hmac.compare_digest(self._sign("flash", raw), sig):
            return None
        try:
            text = base64.urlsafe_b64decode(raw).decode()
        except (ValueError, UnicodeDecodeError):
            return None
        return {"ok": text[:1] == "1", "text": text[1:]}

    def _sign(self, *parts: str) -> str:
        return hmac.new(self.key, "|".join(parts).encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
