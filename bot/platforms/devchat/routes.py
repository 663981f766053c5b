"""The local chat's pages: a person picker and one phone-sized chat per person.

Only ``demo`` mode mounts these; there is no login — whoever can reach the
demo server can be anyone in the directory.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web
from sqlalchemy import select

from bot.platforms.devchat.api import USERID, DevchatApi
from models import OFFICE_DEPARTMENT, Person

if TYPE_CHECKING:
    from bot.core import BotCore

STATIC = Path(__file__).resolve().parent / "static"


def setup_devchat_routes(app: web.Application, core: "BotCore") -> None:
    pages = DevchatPages(core)
    app.router.add_get("/", pages.index)
    app.router.add_get("/chat", pages.open_by_id)
    app.router.add_get("/chat/{userid}", pages.chat)
    app.router.add_routes(DevchatApi(core).routes())
    app.router.add_static("/devchat/static", STATIC)


class DevchatPages:
    def __init__(self, core: "BotCore") -> None:
        self.core = core

    def _html(self, name: str, status: int = 200, **ctx) -> web.Response:
        return web.Response(text=self.core.renderer.page(name, **ctx), content_type="text/html", status=status)

    async def index(self, request: web.Request) -> web.Response:
        """Everyone in the directory, by 系部 (教务处 first), each a link to their chat."""
        async with self.core.db.session() as s:
            people = (await s.execute(select(Person).order_by(Person.department, Person.userid))).scalars().all()
        groups: dict[str, list[Person]] = {}
        for p in people:
            groups.setdefault(p.department, []).append(p)
        order = sorted(groups, key=lambda d: (d != OFFICE_DEPARTMENT, d))
        return self._html("devchat/index.html", departments=[(d, groups[d]) for d in order], total=len(people))

    async def open_by_id(self, request: web.Request) -> web.Response:
        """The picker's "any userid" box (to try an id that is not in the directory)."""
        userid = request.query.get("userid", "").strip()
        if not USERID.match(userid):
            return self._html("devchat/bad_userid.html", status=400, userid=userid)
        raise web.HTTPFound(f"/chat/{userid}")

    async def chat(self, request: web.Request) -> web.Response:
        userid = request.match_info["userid"]
        if not USERID.match(userid):
            return self._html("devchat/bad_userid.html", status=400, userid=userid)
        async with self.core.db.session() as s:
            person = await s.get(Person, userid)
        return self._html("devchat/chat.html", userid=userid, person=person)
