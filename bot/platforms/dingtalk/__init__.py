"""DingTalk (钉钉) enterprise internal app robot: the only code that knows DingTalk.

The app mounts it through this module's one entry, :func:`platform`, when
:func:`configured` says its settings are complete (see ``bot/platforms/base.py``).
Stream mode (default) needs no route; HTTP mode mounts ``POST /dingtalk/callback``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import ClientSession

from bot.platforms.base import HttpSessions, Platform
from bot.platforms.dingtalk.client import DingTalkClient
from bot.platforms.dingtalk.directory import DingTalkDirectory
from bot.platforms.dingtalk.events import PLATFORM
from bot.platforms.dingtalk.platform import DingTalkPlatform

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.core import BotCore

NAME = PLATFORM


def configured(settings: "Settings", mode: str) -> bool:
    """Client id, secret and card template present (``serve`` names a half-configured DingTalk)."""
    return settings.dingtalk_configured


def platform(settings: "Settings", http: HttpSessions, core: "BotCore") -> Platform:
    return DingTalkPlatform(settings, http, core)


def directory(settings: "Settings", session: ClientSession) -> DingTalkDirectory:
    """The 通讯录 as ``campusbot directory sync --from dingtalk`` reads it."""
    return DingTalkDirectory(DingTalkClient(
        session, api_base=settings.dingtalk_api_base, oapi_base=settings.dingtalk_oapi_base,
        client_id=settings.dingtalk_client_id, client_secret=settings.dingtalk_client_secret,
        robot_code=settings.dingtalk_robot, backoff_base=settings.dingtalk_retry_base))


__all__ = ["NAME", "DingTalkPlatform", "configured", "directory", "platform"]
