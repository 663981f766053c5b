"""Pages opened from cards: the upload page (WeCom delivers no files to an app)
and the printable 调停课记录表 with its xlsx. Links are signed, name their person
and expire; inside WeCom the visitor is identified too (bot/page_access.py).

A page's title and text when it cannot be shown are macro pairs in
``messages/pages/texts.j2`` (``<name>_title`` / ``<name>_text``)."""
from __future__ import annotations

from pathlib import Path

from aiohttp import web
from sqlalchemy import select

from bot.core import BotCore
from bot.file_pages import file_response, receive_upload
from bot.links import verify
from bot.page_access import may_see_record, visitor
from bot.page_access import message as _message
from handlers.data.adjust_record import record_rows
from handlers.files import MAX_BYTES, allowed_extensions, sheet_columns
from handlers.offload import off_loop
from handlers.sheet_template import template_path, write_template
from handlers.sniff import CONTENT_TYPES, safe_filename
from models import Person, Run, StoredFile, Task


TEMPLATE_TEXTS = "data/sheet_template.j2"
TEMPLATE_WORDS = ("sheet", "guide", "column", "rule", "required", "optional")


def setup_routes(app: web.Application, core: BotCore) -> None:
    async def upload_form(request: web.Request) -> web.Response:
        found = await _task_from_link(request, core)
        if isinstance(found, web.Response):
            return found
        task, run, person = found
        return await _render_upload(core, task, run, person, request.query_string)

    async def upload_post(request: web.Request) -> web.Response:
        found = await _task_from_link(request, core)
        if isinstance(found, web.Response):
            return found
        task, run, person = found
        outcome = await receive_upload(request, core, task, run, person)
        if outcome is None:
            return _message(core, "upload_closed", 200)
        return await _render_upload(core, task, run, person, request.query_string,
                                    problems=outcome.problems, accepted=outcome.accepted)

    async def record_page(request: web.Request) -> web.Response:
        run = await _run_from_link(request, core)
        if isinstance(run, web.Response):
            return run
        async with core.db.session() as s:
            approvals = await core.engine.approvals(s, run)
            teacher = await s.get(Person, run.started_by)
        rows = record_rows(core.renderer, run, approvals, teacher)
        return web.Response(text=core.renderer.page("pages/record.html", run=run, rows=rows,
                                                    xlsx_url=f"/record/{run.id}.xlsx?{request.query_string}"),
                            content_type="text/html")

    async def record_xlsx(request: web.Request) -> web.StreamResponse:
        run = await _run_from_link(request, core, kind_id=request.match_info["run_id"])
        if isinstance(run, web.Response):
            return run
        async with core.db.session() as s:
            f = (await s.execute(select(StoredFile).where(StoredFile.run_id == run.id, StoredFile.userid == "system")
                                 .order_by(StoredFile.id.desc()).limit(1))).scalar_one_or_none()
        if f is None or not Path(f.path).exists():
            return _message(core, "record_not_ready", 404)
        return file_response(f.path, f"{run.record_no}.xlsx", f.content_type)

    async def upload_template(request: web.Request) -> web.StreamResponse:
        found = await _task_from_link(request, core)
        if isinstance(found, web.Response):
            return found
        task, run, _ = found
        step = core.engine.steps(run)[task.step_index]
        required, optional = sheet_columns(step, core.engine.hook(step))
        if not required:
            return _message(core, "no_template", 404)
        words = {k: core.renderer.macro(TEMPLATE_TEXTS, k) for k in TEMPLATE_WORDS}
        path = template_path(Path(core.settings.data_dir), required, optional)
        await off_loop(write_template, path, required, optional, words)
        name = safe_filename(core.renderer.macro(TEMPLATE_TEXTS, "filename", step=step), "template.xlsx")
        return file_response(str(path), name, CONTENT_TYPES["xlsx"])

    app.router.add_get("/upload/{task_id}", upload_form)
    app.router.add_get("/upload/{task_id}/template.xlsx", upload_template)
    app.router.add_post("/upload/{task_id}", upload_post)
    app.router.add_get("/record/{run_id}.xlsx", record_xlsx)
    app.router.add_get("/record/{run_id}", record_page)


async def _task_from_link(request: web.Request, core: BotCore):
    raw = request.match_info["task_id"]
    if not raw.isdigit():
        return _message(core, "upload_bad", 400)
    q = request.query
    why = verify(core.settings, "upload", int(raw), q.get("u", ""), q.get("exp", ""), q.get("sig", ""))
    if why:
        return _message(core, "upload_refused", 403, why=why)
    who = await visitor(request, core)
    if isinstance(who, web.Response):
        return who
    async with core.db.session() as s:
        task = await s.get(Task, int(raw))
        run = await s.get(Run, task.run_id) if task else None
        person = await s.get(Person, q.get("u", ""))
    if who is not None and who != q.get("u", ""):
        return _message(core, "not_yours", 403)  # a forwarded link: an upload acts as its person
    if task is None or run is None or person is None or task.assignee != person.userid:
        return _message(core, "upload_not_yours", 404)
    return task, run, person


async def _run_from_link(request: web.Request, core: BotCore, kind_id: str | None = None):
    raw = kind_id or request.match_info["run_id"]
    if not raw.isdigit():
        return _message(core, "record_bad", 400)
    q = request.query
    why = verify(core.settings, "record", int(raw), q.get("u", ""), q.get("exp", ""), q.get("sig", ""))
    if why:
        return _message(core, "record_refused", 403, why=why)
    who = await visitor(request, core)
    if isinstance(who, web.Response):
        return who
    async with core.db.session() as s:
        run = await s.get(Run, int(raw))
        allowed = run is not None and await may_see_record(s, run, who or q.get("u", ""))
    if run is None:
        return _message(core, "record_missing", 404)
    if not allowed:
        return _message(core, "not_yours", 403)
    return run


async def _render_upload(core: BotCore, task: Task, run: Run, person: Person, query: str,
                         problems: list[str] | None = None, accepted: bool = False) -> web.Response:
    async with core.db.session() as s:
        q = select(StoredFile).where(StoredFile.run_id == run.id, StoredFile.step_id == task.step_id)
        # A 系部's office shares its uploads; an individual duty shows only that person's.
        q = q.where(StoredFile.department == task.department) if task.group == task.department \
            else q.where(StoredFile.userid == task.assignee)
        files = (await s.execute(q.order_by(StoredFile.id.desc()))).scalars().all()
    step = core.engine.steps(run)[task.step_index]
    hook = core.engine.hook(step)
    required, optional = sheet_columns(step, hook)
    template_url = f"/upload/{task.id}/template.xlsx?{query}" if required else ""
    html = core.renderer.page("pages/upload.html", run=run, task=task, step=step, person=person, files=files,
                              required=required, optional=optional, template_url=template_url,
                              problems=problems or [], accepted=accepted, action=f"/upload/{task.id}?{query}",
                              allow_empty=hook is not None and hook.allow_empty_sheet,
                              accept=",".join(sorted(allowed_extensions(step.accept))),
                              max_mb=MAX_BYTES // (1024 * 1024))
    return web.Response(text=html, content_type="text/html", status=200 if not problems else 422)
