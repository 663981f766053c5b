"""The local chat as a :class:`~bot.platforms.base.Platform` (``campusbot demo`` only)."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from bot import accounts
from bot.outbound import OutboundMessage, button_style
from bot.platforms.base import Capabilities
from bot.platforms.devchat.api import PLATFORM
from bot.platforms.devchat.routes import setup_devchat_routes
from bot.platforms.devchat.sender import MAX_BATCH, DevchatSender

if TYPE_CHECKING:
    from bot.core import BotCore

TEMPLATES = Path(__file__).resolve().parent / "templates"


class DevchatPlatform:
    name = PLATFORM
    capabilities = Capabilities(buttons=True, card_update=True, markdown=False, max_batch=MAX_BATCH,
                                file_messages=False, recall=True)

    def __init__(self, core: "BotCore") -> None:
        self.core = core
        self.sender = DevchatSender(core.db)
        core.renderer.add_templates(TEMPLATES)

    async def identify_visitor(self, request: web.Request) -> str | None | web.Response:
        """The local chat has no login: its links are the credential."""
        return None

    def routes(self, app: web.Application) -> None:
        setup_devchat_routes(app, self.core)

    def render_card(self, message: OutboundMessage) -> dict:
        """What the chat page draws: the card with semantic styles (CSS classes ``style-<name>``)."""
        data = message.to_json()
        card = data.get("card") or {}
        card["buttons"] = [{**b, "style": button_style(b.get("style"))} for b in card.get("buttons") or []]
        return data

    async def start(self, *, receive: bool = True) -> None:
        """Everyone in the directory is on the local chat: an older demo database gets the accounts."""
        async with self.core.db.session() as s:
            await accounts.ensure_platform_accounts(s, PLATFORM)

    async def stop(self) -> None:
        """Nothing to close: the sender writes rows."""
