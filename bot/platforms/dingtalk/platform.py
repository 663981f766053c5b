"""DingTalk as a :class:`~bot.platforms.base.Platform`: the stream (or HTTP callback), the sender."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot import accounts
from bot.config import Settings
from bot.outbound import OutboundMessage
from bot.page_message import message as page_message
from bot.platforms.base import Capabilities, HttpSessions, SendResult, TransientSendError
from bot.platforms.dingtalk.callback import setup_callback_routes
from bot.platforms.dingtalk.client import DingTalkAPIError, DingTalkClient, DingTalkTransientError
from bot.platforms.dingtalk.events import PLATFORM, BadPayload, parse
from bot.platforms.dingtalk.login import account_for_code, inside_dingtalk, login_page, setup_login_routes
from bot.platforms.dingtalk.sender import MAX_BATCH, DingTalkSender, render, split_ref
from bot.platforms.dingtalk.stream import StreamClient
from bot.web_session import session_userid

if TYPE_CHECKING:
    from bot.core import BotCore

log = logging.getLogger(__name__)
TEMPLATES = Path(__file__).resolve().parent / "templates"


class _StartedSender:
    """Known to the outbox from the start; DingTalk's HTTP client exists only once the loop runs."""

    name = PLATFORM
    max_batch = MAX_BATCH

    def __init__(self) -> None:
        self.inner: DingTalkSender | None = None

    async def send(self, userids: list[str], message: OutboundMessage, *, dedup: bool = True,
                   ref: str = "") -> SendResult:
        if self.inner is None:
            raise TransientSendError("dingtalk is not started yet")
        return await self.inner.send(userids, message, dedup=dedup, ref=ref)


class DingTalkPlatform:
    name = PLATFORM
    capabilities = Capabilities(buttons=True, card_update=True, markdown=True, max_batch=MAX_BATCH,
                                file_messages=False, recall=True, read_status=True)

    def __init__(self, settings: Settings, http: HttpSessions, core: "BotCore") -> None:
        self.settings, self.http, self.core = settings, http, core
        self.sender = _StartedSender()
        self.client: DingTalkClient | None = None
        self.stream: StreamClient | None = None
        core.renderer.add_templates(TEMPLATES)

    def routes(self, app: web.Application) -> None:
        """HTTP mode: ``POST /dingtalk/callback`` (the stream needs no route); 免登's ``POST /auth/dingtalk``."""
        if self.settings.dingtalk_mode == "http":
            setup_callback_routes(app, self.settings.dingtalk_client_secret, self.core.accept)
        if self.settings.dingtalk_corp_id:
            setup_login_routes(app, lambda: self.settings.signing_key, self.exchange_code,
                               lambda name, status: page_message(self.core, name, status), secure=self._secure)

    def render_card(self, message: OutboundMessage) -> dict:
        return render(message)

    async def identify_visitor(self, request: web.Request) -> str | None | web.Response:
        """Inside DingTalk (User-Agent ``DingTalk``): the session's userid, else the 免登 page first;
        elsewhere, or without ``CAMPUSBOT_DINGTALK_CORP_ID``, None (the signed link stands)."""
        if not self.settings.dingtalk_corp_id or not inside_dingtalk(request):
            return None
        userid = session_userid(request, self.settings.signing_key)
        if userid:
            return userid
        if request.method != "GET":
            return page_message(self.core, "dd_login_expired", 403)
        return login_page(request, self._login_html, self.settings.signing_key, secure=self._secure)

    async def exchange_code(self, code: str) -> str | None:
        """A one-time 免登 code → our userid, through ``person_accounts``; None when DingTalk or the directory
        does not know the person."""
        account = await account_for_code(self.client, code)
        if account is None:
            return None
        async with self.core.db.session() as s:
            return await accounts.userid_for(s, PLATFORM, account)

    @property
    def _secure(self) -> bool:
        return self.settings.public_url.startswith("https://")

    def _login_html(self, name: str, **values) -> str:
        s = self.settings
        return self.core.renderer.page(name, jsapi_url=s.dingtalk_jsapi_url, corp_id=s.dingtalk_corp_id,
                                       client_id=s.dingtalk_client_id, **values)

    async def start(self, *, receive: bool = True) -> None:
        s = self.settings
        session = self.http.get(PLATFORM)
        self.client = DingTalkClient(session, api_base=s.dingtalk_api_base, oapi_base=s.dingtalk_oapi_base,
                                     client_id=s.dingtalk_client_id, client_secret=s.dingtalk_client_secret,
                                     robot_code=s.dingtalk_robot, backoff_base=s.dingtalk_retry_base)
        callback_type = "STREAM" if s.dingtalk_mode == "stream" else "HTTP"
        self.sender.inner = DingTalkSender(self.client, s.dingtalk_card_template_id, callback_type,
                                           agent_id=s.dingtalk_agent_id)
        if s.dingtalk_mode == "stream" and receive:
            self.stream = StreamClient(session, api_base=s.dingtalk_api_base, client_id=s.dingtalk_client_id,
                                       client_secret=s.dingtalk_client_secret, on_update=self._update,
                                       backoff_base=s.dingtalk_reconnect_base, backoff_cap=s.dingtalk_reconnect_cap)
            self.stream.start()

    async def read_status(self, refs: list[tuple[str, str]]) -> dict[str, bool]:
        """Who read the 工作通知 sent beside a message (``getsendresult``, one call per task); a task DingTalk
        cannot answer for (older than 24 h, an error) leaves its people out."""
        tasks: dict[str, set[str]] = {}
        for account, ref in refs:
            if task := split_ref(ref)[1]:
                tasks.setdefault(task, set()).add(account)
        if self.client is None or not self.settings.dingtalk_agent_id:
            return {}
        status: dict[str, bool] = {}
        for task, accounts_sent in tasks.items():
            try:
                result = await self.client.send_result(self.settings.dingtalk_agent_id, task)
            except (DingTalkAPIError, DingTalkTransientError) as exc:
                log.warning("dingtalk getsendresult %s: %s", task, exc)
                continue
            read = {str(u) for u in result.get("read_user_id_list") or []}
            unread = {str(u) for u in result.get("unread_user_id_list") or []}
            for account in accounts_sent & (read | unread):
                status[account] = status.get(account, False) or account in read
        return status

    async def stop(self) -> None:
        """The stream stops here; the HTTP session is closed with the others (``HttpSessions.close``)."""
        if self.stream is not None:
            await self.stream.stop()

    async def _update(self, topic: str, data: Any) -> None:
        try:
            event = parse(topic, data)
        except BadPayload as exc:
            log.warning("dingtalk stream: %s ignored: %s", topic, exc)
            return
        await self.core.accept(event)
