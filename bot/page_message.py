"""A short Chinese page for a refusal or a notice, shared by the pages and the platforms'
own page routes (a WeCom login that expired), so neither imports the other."""
from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from bot.core import BotCore

TEXTS = "pages/texts.j2"


def message(core: "BotCore", name: str, status: int, **values) -> web.Response:
    """``<name>_title`` / ``<name>_text`` from messages/pages/texts.j2, never cached."""
    title = core.renderer.macro(TEXTS, f"{name}_title", **values)
    text = core.renderer.macro(TEXTS, f"{name}_text", **values)
    return web.Response(text=core.renderer.page("pages/message.html", title=title, text=text),
                        content_type="text/html", status=status, headers={"Cache-Control": "no-store"})
