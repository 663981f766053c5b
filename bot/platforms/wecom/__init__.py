"""WeCom (企业微信) self-built app adapter: the only code that knows WeCom.

The app mounts it through this module's one entry, :func:`platform`, when
:func:`configured` says its settings are complete (see ``bot/platforms/base.py``).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import ClientSession

from bot.platforms.base import HttpSessions, Platform
from bot.platforms.wecom.callback import make_media_fetcher, parse_event, setup_wecom_routes
from bot.platforms.wecom.cards import CardError, render
from bot.platforms.wecom.client import WeComAPIError, WeComClient, WeComTransientError
from bot.platforms.wecom.crypto import CallbackRejected, WeComCrypto
from bot.platforms.wecom.directory import WeComDirectory
from bot.platforms.wecom.platform import WeComPlatform
from bot.platforms.wecom.sender import BatchTooLargeError, WeComSender

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.core import BotCore

NAME = "wecom"


def configured(settings: "Settings", mode: str) -> bool:
    """Every WeCom setting present (``serve`` refuses to start otherwise; the demo may add WeCom)."""
    return settings.wecom_configured


def platform(settings: "Settings", http: HttpSessions, core: "BotCore") -> Platform:
    return WeComPlatform(settings, http, core)


def directory(settings: "Settings", session: ClientSession) -> WeComDirectory:
    """The 通讯录 as ``campusbot directory sync --from wecom`` reads it."""
    return WeComDirectory(WeComClient(settings, session, backoff_base=settings.wecom_retry_base))


__all__ = [
    "NAME",
    "directory",
    "configured",
    "platform",
    "BatchTooLargeError",
    "CallbackRejected",
    "CardError",
    "WeComAPIError",
    "WeComClient",
    "WeComCrypto",
    "WeComSender",
    "WeComTransientError",
    "make_media_fetcher",
    "parse_event",
    "render",
    "setup_wecom_routes",
]
