"""The aiohttp application: platform adapters in front, the bot core behind."""
from __future__ import annotations

import logging
from typing import Literal

from aiohttp import ClientSession, ClientTimeout, web

from bot.composition import build_dispatcher
from bot.config import Settings
from bot.core import BotCore
from bot.db import Database
from bot.platforms.base import PlatformSender

log = logging.getLogger(__name__)

CORE = web.AppKey("core", BotCore)
WECOM_CLIENT = web.AppKey("wecom_client", object)
WECOM_SENDER = web.AppKey("wecom_sender", object)
Mode = Literal["serve", "demo"]


def create_app(settings: Settings, mode: Mode = "serve", *, extra_senders: dict[str, PlatformSender] | None = None,
               clock=None, start_workers: bool = True) -> web.Application:
    """``serve`` talks to WeCom; ``demo`` runs the local chat (and WeCom too when configured)."""
    from bot import file_pages, pages

    db = Database(settings.database_url)
    senders: dict[str, PlatformSender] = dict(extra_senders or {})
    wecom_on = settings.wecom_configured
    if mode == "demo":
        from bot.platforms.devchat import DevchatSender, setup_devchat_routes

        senders.setdefault("devchat", DevchatSender(db))
    kwargs = {"clock": clock} if clock else {}
    default = "devchat" if mode == "demo" else "wecom"
    app = web.Application(client_max_size=25 * 1024 * 1024)
    http: dict[str, ClientSession] = {}

    if wecom_on:
        from bot.platforms.wecom import WeComClient, WeComSender, make_media_fetcher, setup_wecom_routes

        class _LazySender:
            """Created before the event loop runs; the HTTP session exists only from startup on."""

            name = "wecom"
            max_batch = 1000

            async def send(self, userids, message, *, dedup, ref=""):
                return await app[WECOM_SENDER].send(userids, message, dedup=dedup)

        senders.setdefault("wecom", _LazySender())

    core = BotCore(settings, db, default_platform=default, senders=senders, dispatcher=build_dispatcher(), **kwargs)
    app[CORE] = core

    async def on_startup(app: web.Application) -> None:
        await db.upgrade()
        if wecom_on:
            http["wecom"] = ClientSession(timeout=ClientTimeout(total=30))
            client = WeComClient(settings, http["wecom"], backoff_base=settings.wecom_retry_base)
            app[WECOM_CLIENT] = client
            app[WECOM_SENDER] = WeComSender(client)
        if start_workers:
            await core.start()

    async def on_cleanup(app: web.Application) -> None:
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
    if mode == "demo":
        setup_devchat_routes(app, core)
    pages.setup_routes(app, core)
    file_pages.setup_file_routes(app, core)
    app.router.add_get("/healthz", _health)
    return app


async def _health(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})
