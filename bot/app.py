"""The aiohttp application: platform adapters in front, the bot core behind."""
from __future__ import annotations

import logging
from typing import Literal

from aiohttp import ClientSession, ClientTimeout, web
from aiohttp.abc import AbstractAccessLogger

from bot.composition import build_dispatcher
from bot.config import ConfigError, Settings, demo_secret_key
from bot.core import BotCore
from bot.db import Database
from bot.platforms.base import PlatformSender

log = logging.getLogger(__name__)

CORE = web.AppKey("core", BotCore)
WECOM_CLIENT = web.AppKey("wecom_client", object)
WECOM_SENDER = web.AppKey("wecom_sender", object)
DINGTALK = web.AppKey("dingtalk", object)
Mode = Literal["serve", "demo"]
# Bodies read whole (JSON, forms, the WeCom callback's own smaller limit) stay small; uploads
# stream through multipart with their own limit (handlers.files.MAX_BYTES), never this one.
CLIENT_MAX_SIZE = 1 << 20


def create_app(settings: Settings, mode: Mode = "serve", *, extra_senders: dict[str, PlatformSender] | None = None,
               clock=None, start_workers: bool = True) -> web.Application:
    """``serve`` talks to WeCom; ``demo`` runs the local chat (and WeCom too when configured).

    ``serve`` needs ``CAMPUSBOT_SECRET_KEY``; the demo keeps a random one in its data folder."""
    from bot import file_pages, pages

    if not settings.secret_key:
        if mode != "demo":
            raise ConfigError("CAMPUSBOT_SECRET_KEY is not set (required by 'campusbot serve')")
        settings = settings.model_copy(update={"secret_key": demo_secret_key(settings.data_dir)})
    db = Database(settings.database_url)
    senders: dict[str, PlatformSender] = dict(extra_senders or {})
    wecom_on = settings.wecom_configured
    if mode == "demo":
        from bot.platforms.devchat import DevchatSender, setup_devchat_routes

        senders.setdefault("devchat", DevchatSender(db))
    kwargs = {"clock": clock} if clock else {}
    default = "devchat" if mode == "demo" else ("wecom" if wecom_on or not settings.dingtalk_configured else "dingtalk")
    app = web.Application(client_max_size=CLIENT_MAX_SIZE)
    http: dict[str, ClientSession] = {}

    if wecom_on:
        from bot.platforms.wecom import WeComClient, WeComSender, make_media_fetcher, setup_wecom_routes

        class _LazySender:
            """Created before the event loop runs; the HTTP session exists only from startup on."""

            name = "wecom"
            max_batch = 1000

            async def send(self, userids, message, *, dedup, ref=""):
                return await app[WECOM_SENDER].send(userids, message, dedup=dedup, ref=ref)

        senders.setdefault("wecom", _LazySender())

    core = BotCore(settings, db, default_platform=default, senders=senders, dispatcher=build_dispatcher(), **kwargs)
    app[CORE] = core
    dingtalk = _mount_dingtalk(app, settings, http, core) if settings.dingtalk_configured else None

    async def on_startup(app: web.Application) -> None:
        await db.upgrade()
        if wecom_on:
            http["wecom"] = ClientSession(timeout=ClientTimeout(total=30))
            client = WeComClient(settings, http["wecom"], backoff_base=settings.wecom_retry_base)
            app[WECOM_CLIENT] = client
            app[WECOM_SENDER] = WeComSender(client)
        if dingtalk is not None:
            await dingtalk.start()
        if start_workers:
            await core.start()

    async def on_cleanup(app: web.Application) -> None:
        if dingtalk is not None:
            await dingtalk.stop()
        await core.stop()
        for session in http.values():
            await session.close()
        await db.dispose()

    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)

    if wecom_on:
        async def fetch_media(media_id: str):
            return await make_media_fetcher(app[WECOM_CLIENT], settings.data_dir / "files")(media_id)

        setup_wecom_routes(app, settings, core.accept, fetch_media)
        _setup_oauth(app, core, http)
    if mode == "demo":
        setup_devchat_routes(app, core)
    pages.setup_routes(app, core)
    file_pages.setup_file_routes(app, core)
    app.router.add_get("/healthz", _health)
    return app


async def _health(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


def _mount_dingtalk(app: web.Application, settings: Settings, http: dict[str, ClientSession], core: BotCore):
    """DingTalk as one platform object (bot/platforms/dingtalk): its routes, its sender, its stream."""
    from bot.platforms.dingtalk import platform

    dingtalk = platform(settings, http, core)
    dingtalk.routes(app)
    core.senders.setdefault(dingtalk.name, dingtalk.sender)
    app[DINGTALK] = dingtalk
    return dingtalk


def _setup_oauth(app: web.Application, core: BotCore, http: dict[str, ClientSession]) -> None:
    """WeCom's return from identifying a page's visitor (see bot/platforms/wecom/oauth.py)."""
    from bot.page_access import message
    from bot.platforms.wecom.oauth import setup_oauth_routes, userid_for_code

    settings = core.settings

    async def exchange(code: str) -> str | None:
        return await userid_for_code(app[WECOM_CLIENT], http["wecom"], settings.wecom_api_base, code)

    setup_oauth_routes(app, settings, exchange, lambda name, status: message(core, name, status),
                       secure=settings.public_url.startswith("https://"))


class PathOnlyAccessLogger(AbstractAccessLogger):
    """The access log without query strings: links carry ``sig=``, callbacks ``msg_signature=``."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info('%s "%s %s" %s %s %.3fs', request.remote, request.method, request.path,
                         response.status, response.body_length, time)


def access_log_options() -> dict:
    """Keyword arguments for ``web.run_app``/``AppRunner``: the path-only access log."""
    return {"access_log_class": PathOnlyAccessLogger}
