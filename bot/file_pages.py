"""Downloads of files the bot produced (a merged 名单, a 系部's part of a list).

The link names the person and expires, as for uploads; inside WeCom the visitor
must be that person or have rights over the run (bot/page_access.py).
Only files kept under ``settings.data_dir`` are ever served.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from aiohttp import web

from bot.links import signed_task_link, verify
from bot.page_access import has_rights_over, message, visitor
from models import Person, Run, StoredFile

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.core import BotCore

KIND = "file"


def download_url(settings: "Settings", file_id: int, userid: str) -> str:
    """A signed link for ``userid`` to download stored file ``file_id`` (7 days)."""
    return signed_task_link(settings, KIND, file_id, userid)


def setup_file_routes(app: web.Application, core: "BotCore") -> None:
    async def download(request: web.Request) -> web.StreamResponse:
        raw = request.match_info["file_id"]
        if not raw.isdigit():
            return _message(core, "bad", 400)
        q = request.query
        why = verify(core.settings, KIND, int(raw), q.get("u", ""), q.get("exp", ""), q.get("sig", ""))
        if why:
            return _message(core, "refused", 403, why=why)
        who = await visitor(request, core)
        if isinstance(who, web.Response):
            return who
        async with core.db.session() as s:
            stored = await s.get(StoredFile, int(raw))
            person = await s.get(Person, q.get("u", ""))
            if who is not None and who != q.get("u", ""):  # inside WeCom, a forwarded link
                run = await s.get(Run, stored.run_id) if stored is not None and stored.run_id else None
                if run is None or not has_rights_over(run, await s.get(Person, who)):
                    return message(core, "not_yours", 403)
        if stored is None or person is None or not _inside(Path(stored.path), Path(core.settings.data_dir)):
            return _message(core, "gone", 404)
        return web.FileResponse(stored.path, headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(stored.filename)}",
            "Content-Type": stored.content_type or "application/octet-stream",
        })

    app.router.add_get(f"/{KIND}/{{file_id}}", download)


def _inside(path: Path, root: Path) -> bool:
    try:
        return path.resolve().is_relative_to(root.resolve()) and path.is_file()
    except OSError:
        return False


def _message(core: "BotCore", name: str, status: int, **values) -> web.Response:
    title = core.renderer.macro("data/download_page.j2", f"{name}_title", **values)
    text = core.renderer.macro("data/download_page.j2", f"{name}_text", **values)
    return web.Response(text=core.renderer.page("pages/message.html", title=title, text=text),
                        content_type="text/html", status=status)
