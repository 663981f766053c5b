"""WeCom as a :class:`~bot.platforms.base.Platform`: the callback, page identity (OAuth), the sender,
and the console's 扫码登录 (handed to the console by the composition root, see ``bot/app.py``)."""
from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlencode

from aiohttp import web

from bot import accounts
from bot.config import Settings
from bot.links import public_base
from bot.outbound import OutboundMessage
from bot.page_message import message as page_message
from bot.platforms.base import Capabilities, HttpSessions, SendResult
from bot.platforms.wecom.callback import PLATFORM, make_media_fetcher, setup_wecom_routes
from bot.platforms.wecom.cards import render
from bot.platforms.wecom.client import WeComClient
from bot.platforms.wecom.oauth import (
    authorize_redirect, inside_wecom, session_userid, setup_oauth_routes, userid_for_code,
)
from bot.platforms.wecom.sender import MAX_BATCH, WeComSender

if TYPE_CHECKING:
    from bot.core import BotCore


class _StartedSender:
    """Known to the outbox from the start; WeCom's HTTP client exists only once the loop runs."""

    name = PLATFORM
    max_batch = MAX_BATCH

    def __init__(self, owner: "WeComPlatform") -> None:
        self._owner = owner

    async def send(self, userids: list[str], message: OutboundMessage, *, dedup: bool, ref: str = "") -> SendResult:
        return await self._owner.started_sender().send(userids, message, dedup=dedup, ref=ref)


class WeComPlatform:
    name = PLATFORM
    capabilities = Capabilities(buttons=True, card_update=True, markdown=True, max_batch=MAX_BATCH,
                                file_messages=False, recall=True)

    def __init__(self, settings: Settings, http: HttpSessions, core: "BotCore") -> None:
        self.settings, self.http, self.core = settings, http, core
        self.client: WeComClient | None = None
        self._sender: WeComSender | None = None
        self.sender = _StartedSender(self)

    def started_sender(self) -> WeComSender:
        if self._sender is None:
            raise RuntimeError("the WeCom platform has not started")
        return self._sender

    async def start(self, *, receive: bool = True) -> None:
        self.client = WeComClient(self.settings, self.http.get(PLATFORM), backoff_base=self.settings.wecom_retry_base)
        self._sender = WeComSender(self.client)

    async def stop(self) -> None:
        """The HTTP session is closed with the others (``HttpSessions.close``)."""

    def render_card(self, message: OutboundMessage) -> dict:
        return render(message)

    async def identify_visitor(self, request: web.Request) -> str | None | web.Response:
        """Inside WeCom (User-Agent ``wxwork``): the session's userid, else OAuth first; elsewhere None."""
        if not inside_wecom(request):
            return None
        userid = session_userid(request, self.settings.signing_key)
        if userid:
            return userid
        if request.method != "GET":
            return page_message(self.core, "login_expired", 403)
        return authorize_redirect(request, self.settings, public_base(self.settings))

    async def exchange_code(self, code: str) -> str | None:
        """A one-time WeCom code (OAuth or 扫码登录) → our userid: WeCom answers with a WeCom account,
        mapped through ``person_accounts``; None when WeCom or the directory does not know it."""
        account = await userid_for_code(self.client, self.http.get(PLATFORM), self.settings.wecom_api_base, code)
        if account is None:
            return None
        async with self.core.db.session() as s:
            return await accounts.userid_for(s, PLATFORM, account)

    def qr_login_url(self, redirect_uri: str, state: str) -> str:
        """WeCom 扫码登录 for a plain PC browser: its QR page, back to ``redirect_uri`` with a code."""
        query = urlencode({"login_type": "CorpApp", "appid": self.settings.wecom_corp_id,
                           "agentid": self.settings.wecom_agent_id, "redirect_uri": redirect_uri, "state": state})
        return f"{self.settings.wecom_oauth_base.rstrip('/')}/wwlogin/sso/login?{query}"

    def routes(self, app: web.Application) -> None:
        settings, core = self.settings, self.core

        async def fetch_media(media_id: str):
            return await make_media_fetcher(self.client, settings.data_dir / "files")(media_id)

        setup_wecom_routes(app, settings, core.accept, fetch_media)
        setup_oauth_routes(app, settings, self.exchange_code, lambda name, status: page_message(core, name, status),
                           secure=settings.public_url.startswith("https://"))
