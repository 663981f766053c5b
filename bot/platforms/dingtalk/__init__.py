"""DingTalk (钉钉) enterprise internal app robot: the only code that knows DingTalk.

Wiring (done by the app)::

    dingtalk = platform(settings, http_sessions, core)
    dingtalk.routes(app)          # POST /dingtalk/callback in http mode; nothing in stream mode
    core.senders["dingtalk"] = dingtalk.sender
    await dingtalk.start()        # on startup: the API client, and the stream in stream mode
    await dingtalk.stop()         # on cleanup, before the sessions close
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from aiohttp import ClientSession, ClientTimeout, web

from bot.outbound import OutboundMessage
from bot.platforms.base import SendResult, TransientSendError
from bot.platforms.dingtalk.callback import setup_callback_routes
from bot.platforms.dingtalk.client import DingTalkClient
from bot.platforms.dingtalk.events import BadPayload, parse
from bot.platforms.dingtalk.sender import MAX_BATCH, DingTalkSender
from bot.platforms.dingtalk.stream import StreamClient

if TYPE_CHECKING:
    from bot.core import BotCore

log = logging.getLogger(__name__)

NAME = "dingtalk"


class _Sender:
    """Exists before startup (the outbox is built first); the HTTP session only from startup on."""

    name = NAME
    max_batch = MAX_BATCH

    def __init__(self) -> None:
        self.inner: DingTalkSender | None = None

    async def send(self, userids: list[str], message: OutboundMessage, *, dedup: bool = True,
                   ref: str = "") -> SendResult:
        if self.inner is None:
            raise TransientSendError("dingtalk is not started yet")
        return await self.inner.send(userids, message, dedup=dedup, ref=ref)


class DingTalkPlatform:
    name = NAME

    def __init__(self, settings: Any, http: dict[str, ClientSession], core: "BotCore") -> None:
        self.settings = settings
        self._http = http
        self._core = core
        self.sender = _Sender()
        self.client: DingTalkClient | None = None
        self.stream: StreamClient | None = None

    def routes(self, app: web.Application) -> None:
        if self.settings.dingtalk_mode == "http":
            setup_callback_routes(app, self.settings.dingtalk_client_secret, self._core.accept)

    async def start(self) -> None:
        s = self.settings
        session = self._http.get(NAME)
        if session is None:
            session = self._http[NAME] = ClientSession(timeout=ClientTimeout(total=30))
        self.client = DingTalkClient(session, api_base=s.dingtalk_api_base, client_id=s.dingtalk_client_id,
                                     client_secret=s.dingtalk_client_secret, robot_code=s.dingtalk_robot,
                                     backoff_base=s.dingtalk_retry_base)
        callback_type = "STREAM" if s.dingtalk_mode == "stream" else "HTTP"
        self.sender.inner = DingTalkSender(self.client, s.dingtalk_card_template_id, callback_type)
        if s.dingtalk_mode == "stream":
            self.stream = StreamClient(session, api_base=s.dingtalk_api_base, client_id=s.dingtalk_client_id,
                                       client_secret=s.dingtalk_client_secret, on_update=self._update,
                                       backoff_base=s.dingtalk_reconnect_base, backoff_cap=s.dingtalk_reconnect_cap)
            self.stream.start()

    async def stop(self) -> None:
        if self.stream is not None:
            await self.stream.stop()

    async def _update(self, topic: str, data: Any) -> None:
        try:
            event = parse(topic, data)
        except BadPayload as exc:
            log.warning("dingtalk stream: %s ignored: %s", topic, exc)
            return
        await self._core.accept(event)


def platform(settings: Any, http: dict[str, ClientSession], core: "BotCore") -> DingTalkPlatform:
    """The one entry point the app calls."""
    return DingTalkPlatform(settings, http, core)


__all__ = ["DingTalkPlatform", "platform"]
