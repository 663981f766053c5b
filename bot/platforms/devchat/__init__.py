"""The local web chat (``campusbot demo``): every person's phone in a browser tab.

The sender stores outbound messages as rows; the pages poll them and post what
the person types or clicks back as :class:`~bot.events.Event` s, exactly as the
WeCom callback would. Its templates and static files live in this folder.
Mounted only in ``demo``: it lets anyone send as anyone.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from bot.platforms.base import HttpSessions, Platform
from bot.platforms.devchat.platform import DevchatPlatform
from bot.platforms.devchat.routes import setup_devchat_routes
from bot.platforms.devchat.sender import DevchatSender

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.core import BotCore

NAME = "devchat"


def configured(settings: "Settings", mode: str) -> bool:
    """Only the demo: ``serve`` must never mount a chat where anyone can be anyone."""
    return mode == "demo"


def platform(settings: "Settings", http: HttpSessions, core: "BotCore") -> Platform:
    return DevchatPlatform(core)


__all__ = ["NAME", "DevchatPlatform", "DevchatSender", "configured", "platform", "setup_devchat_routes"]
