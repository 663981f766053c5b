"""The aiohttp application: platform adapters in front, the bot core behind."""
from __future__ import annotations

import logging
from typing import Literal

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from bot import file_pages, pages, run_files_pages, timetable_pages
from bot.console import setup_console
from bot.composition import build_dispatcher, build_hooks
from bot.config import ConfigError, Settings, demo_secret_key
from bot.core import BotCore
from bot.db import Database
from bot.platforms import devchat, dingtalk, wecom
from bot.platforms.base import HttpSessions, Platform, PlatformModule, PlatformSender
from bot.platforms.wecom.platform import WeComPlatform
from bot.workers import WorkerProcesses

log = logging.getLogger(__name__)

CORE = web.AppKey("core", BotCore)
PLATFORMS_KEY = web.AppKey("platforms", list)
Mode = Literal["serve", "demo"]
# all: one process does everything; web: it serves and the worker processes work (bot.workers);
# worker: one of those, with no HTTP server.
Role = Literal["all", "web", "worker"]
# Bodies read whole (JSON, forms, the WeCom callback's own smaller limit) stay small; uploads
# stream through multipart with their own limit (handlers.files.MAX_BYTES), never this one.
CLIENT_MAX_SIZE = 1 << 20
# Every platform the app knows, in mount order (also the outbox's tie-break for a person with
# accounts on several, see bot/accounts.py). A new platform is one folder plus a line here.
PLATFORMS: tuple[PlatformModule, ...] = (devchat, wecom, dingtalk)


def create_app(settings: Settings, mode: Mode = "serve", *, extra_senders: dict[str, PlatformSender] | None = None,
               clock=None, start_workers: bool = True, role: Role = "all") -> web.Application:
    """Mounts every platform whose settings are complete: WeCom when configured, the local chat in ``demo``.

    ``serve`` needs ``CAMPUSBOT_SECRET_KEY``; the demo keeps a random one in its data folder."""
    if not settings.secret_key:
        if mode != "demo":
            raise ConfigError("CAMPUSBOT_SECRET_KEY is not set (required by 'campusbot serve')")
        settings = settings.model_copy(update={"secret_key": demo_secret_key(settings.data_dir)})
    db = Database(settings.database_url)
    # The drainer keeps this dict: the platforms built below fill it in mount order.
    senders: dict[str, PlatformSender] = dict(extra_senders or {})
    kwargs = {"clock": clock} if clock else {}
    core = BotCore(settings, db, senders=senders, dispatcher=build_dispatcher(), hooks=build_hooks(), **kwargs)
    app = web.Application(client_max_size=CLIENT_MAX_SIZE)
    app[CORE] = core
    http = HttpSessions()
    platforms: list[Platform] = [module.platform(settings, http, core)
                                 for module in PLATFORMS if module.configured(settings, mode)]
    app[PLATFORMS_KEY] = platforms
    core.platforms.extend(platforms)
    for platform in platforms:
        senders.setdefault(platform.name, platform.sender)
        platform.routes(app)

    children = WorkerProcesses(settings.workers) if role == "web" else None

    async def on_startup(app: web.Application) -> None:
        await db.upgrade()
        for platform in platforms:
            await platform.start(receive=role != "worker")
        if children is not None:  # after the migration: they would race it
            children.start()
            core.nudges.append(children.nudge)
        if start_workers:
            await core.start(work=role != "web", clock=role != "worker")

    async def on_cleanup(app: web.Application) -> None:
        await core.stop()
        if children is not None:
            await children.stop()
        for platform in platforms:
            await platform.stop()
        await http.close()
        await db.dispose()

    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    # The console imports no platform: WeCom, when mounted, lends it 扫码登录 (its QR page and code exchange).
    qr = next((p for p in platforms if isinstance(p, WeComPlatform)), None)
    setup_console(app, core, demo=mode == "demo", qr=qr)
    pages.setup_routes(app, core)
    file_pages.setup_file_routes(app, core)
    run_files_pages.setup_run_file_routes(app, core)
    timetable_pages.setup_timetable_routes(app, core)
    app.router.add_get("/healthz", _health)
    return app


async def _health(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


class PathOnlyAccessLogger(AbstractAccessLogger):
    """The access log without query strings: links carry ``sig=``, callbacks ``msg_signature=``."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info('%s "%s %s" %s %s %.3fs', request.remote, request.method, request.path,
                         response.status, response.body_length, time)


def access_log_options() -> dict:
    """Keyword arguments for ``web.run_app``/``AppRunner``: the path-only access log."""
    return {"access_log_class": PathOnlyAccessLogger}
