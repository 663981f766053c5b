"""A run's files as a page, and a step's files as one zip: what 进度 links to, so the
office reaches every upload (per 系部 and person, every version) in one tap.

The link is signed for one person and expires (bot/links.py ``run_files_url``); the
person must be allowed to see the run's files (workflow/authority.py ``may_see_files``),
and inside WeCom the visitor must be that person or someone with rights over the run.
Each file on the page is a signed download link of its own (bot/file_pages.py).
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from bot.file_pages import file_response
from bot.links import RUN_FILES_KIND, download_url, verify
from bot.page_access import has_rights_over, message, visitor
from handlers.offload import off_loop
from handlers.run_files import ZipRefused, build_zip, run_files, zip_entries, zip_path
from handlers.sniff import CONTENT_TYPES, safe_filename
from workflow.authority import may_see_files
from models import Person, Run

if TYPE_CHECKING:
    from bot.core import BotCore

TEXTS = "data/run_files.j2"


def setup_run_file_routes(app: web.Application, core: "BotCore") -> None:
    async def files_page(request: web.Request) -> web.Response:
        found = await _run_from_link(request, core)
        if isinstance(found, web.Response):
            return found
        run, viewer = found
        async with core.db.session() as s:
            steps = await run_files(s, run, core.engine.steps(run))
        links = {v.file.id: download_url(core.settings, v.file.id, viewer)
                 for st in steps for h in st.holders for v in h.versions}
        links.update({f.id: download_url(core.settings, f.id, viewer) for st in steps for f in st.produced})
        html = core.renderer.page("pages/run_files.html", run=run, steps=steps, links=links,
                                  query=request.query_string)
        return web.Response(text=html, content_type="text/html", headers={"Cache-Control": "no-store"})

    async def step_zip(request: web.Request) -> web.StreamResponse:
        found = await _run_from_link(request, core)
        if isinstance(found, web.Response):
            return found
        run, _ = found
        async with core.db.session() as s:
            steps = await run_files(s, run, core.engine.steps(run))
        chosen = next((st for st in steps if st.step.id == request.match_info["step_id"] and st.holders), None)
        if chosen is None:
            return message(core, "no_files", 404)
        root = Path(core.settings.data_dir)
        path = zip_path(root, run, chosen)
        try:  # off the loop, with no session open; made once per set of files
            if not path.exists():
                await off_loop(build_zip, path, zip_entries(chosen, root))
        except ZipRefused as refused:
            return message(core, "zip_too_big", 413, size_mb=refused.size // (1024 * 1024),
                           limit_mb=refused.limit_mb)
        name = core.renderer.macro(TEXTS, "zip_name", run=run, step=chosen.step)
        return file_response(str(path), safe_filename(name, "files.zip"), CONTENT_TYPES["zip"])

    app.router.add_get(f"/{RUN_FILES_KIND}/{{run_id}}", files_page)
    app.router.add_get(f"/{RUN_FILES_KIND}/{{run_id}}/{{step_id}}.zip", step_zip)


async def _run_from_link(request: web.Request, core: "BotCore") -> tuple[Run, str] | web.Response:
    """The run and who is looking (the link's person, or the identified visitor inside WeCom)."""
    raw = request.match_info["run_id"]
    if not raw.isdigit():
        return message(core, "record_bad", 400)
    q = request.query
    userid = q.get("u", "")
    why = verify(core.settings, RUN_FILES_KIND, int(raw), userid, q.get("exp", ""), q.get("sig", ""))
    if why:
        return message(core, "files_refused", 403, why=why)
    who = await visitor(request, core)
    if isinstance(who, web.Response):
        return who
    async with core.db.session() as s:
        run = await s.get(Run, int(raw))
        person = await s.get(Person, userid)
        viewer = await s.get(Person, who) if who else person
    if run is None or run.code not in core.specs:
        return message(core, "record_missing", 404)
    if who is not None and who != userid and not has_rights_over(run, viewer):
        return message(core, "not_yours", 403)  # a forwarded link
    if not may_see_files(run, viewer):
        return message(core, "not_yours", 403)
    return run, viewer.userid
