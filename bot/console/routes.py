"""``/console``: login, the 本学期总览, the run page and their actions.

Every action calls the engine function chat uses (start_run, remind, skip_step,
reassign, close), so the rules of workflow/authority.py hold here too and the engine
writes the audit row; console-only acts (login, downloads) are audited here.
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web
from sqlalchemy import select

from bot import directory
from bot.console import queries
from bot.console.adjust import add_adjust_routes
from bot.console.audit_log import add_audit_routes
from bot.console.board import add_board_routes
from bot.console.notice_detail import add_detail_routes
from bot.console.notices import add_notice_routes
from bot.console.people import add_people_routes
from bot.console.term import add_term_routes
from bot.console.auth import QR_RETURN, QrLogin, qr_login_redirect, qr_state_ok, viewer_for
from bot.console.files import ZipRefused, build_zip, entry_name
from bot.console.web import LOGIN_PATH, Console
from bot.file_pages import file_response
from bot.links import public_base
from bot.web_session import SESSION_COOKIE, set_session
from models import Person, Run, StoredFile, Task
from workflow.engine import EngineError

if TYPE_CHECKING:
    from bot.core import BotCore

class _Refused(Exception):
    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


def setup_console(app: web.Application, core: "BotCore", *, demo: bool, qr: QrLogin | None = None) -> None:
    """Mount ``/console`` (one call from bot/app.py). ``qr``: a platform's 扫码登录 (WeCom, when configured)."""
    console = Console(core, demo=demo, qr=qr is not None)
    core.renderer.env.filters.setdefault("cnday", lambda d: queries.cn_day(core.reminders.calendar, d))
    core.renderer.env.filters.setdefault("cntime", lambda d: queries.cn_time(core.reminders.hours, d))
    core.renderer.env.filters.setdefault("cnlocal", lambda t: queries.cn_local(core.reminders.calendar, t))
    r = _Routes(console, qr)
    app.router.add_get("/console", r.overview)
    app.router.add_get(LOGIN_PATH, r.login_page)
    app.router.add_post(LOGIN_PATH, r.login_demo)
    app.router.add_get("/console/login/qr", r.login_qr)
    app.router.add_get(QR_RETURN, r.login_qr_return)
    app.router.add_post("/console/logout", r.logout)
    app.router.add_post("/console/start", r.start)
    app.router.add_post("/console/remind-overdue", r.remind_overdue)
    app.router.add_get("/console/runs/{run_id:\\d+}", r.run_page)
    app.router.add_post("/console/runs/{run_id:\\d+}/{action:remind|skip|close}", r.run_action)
    app.router.add_post("/console/tasks/{task_id:\\d+}/reassign", r.reassign)
    app.router.add_get("/console/files/{file_id:\\d+}", r.download)
    app.router.add_get("/console/runs/{run_id:\\d+}/files.zip", r.download_zip)
    add_adjust_routes(app, console)
    add_audit_routes(app, console)
    add_notice_routes(app, console)
    add_detail_routes(app, console)
    add_people_routes(app, console)
    add_term_routes(app, console)
    add_board_routes(app, console, queries.term_of)


class _Routes:
    def __init__(self, console: Console, qr: QrLogin | None) -> None:
        self.c = console
        self.core = console.core
        self.qr = qr

    # -- login ------------------------------------------------------------------------------
    async def login_page(self, request: web.Request) -> web.Response:
        people = []
        if self.c.demo:
            async with self.core.db.session() as s:
                everyone = (await s.execute(select(Person).order_by(Person.department, Person.userid))).scalars()
                people = [p for p in everyone if viewer_for(p) is not None]
        return self.c.page(request, "console/login.html", people=people, demo=self.c.demo, qr=self.c.qr)

    async def login_demo(self, request: web.Request) -> web.Response:
        """The demo's picker: no password, as the local chat (``serve`` never offers it)."""
        if not self.c.demo:
            return self.c.message("no_picker", 404)
        if not await self.c.csrf_ok(request):
            return self.c.message("csrf", 403)
        userid = str((await request.post()).get("userid", ""))
        return await self._signed_in(userid, "demo")

    async def login_qr(self, request: web.Request) -> web.Response:
        if self.qr is None:
            return self.c.message("no_qr", 404)
        return qr_login_redirect(self.qr, self.c.key, public_base(self.core.settings) + QR_RETURN)

    async def login_qr_return(self, request: web.Request) -> web.Response:
        if self.qr is None or not qr_state_ok(request, self.c.key):
            return self.c.message("login_expired", 403)
        code = request.query.get("code", "")
        userid = await self.qr.exchange_code(code) if code else None
        if not userid:
            return self.c.message("login_failed", 403)
        return await self._signed_in(userid, "qr")

    async def _signed_in(self, userid: str, how: str) -> web.Response:
        async with self.core.db.session() as s:
            person = await s.get(Person, userid)
            viewer = viewer_for(person)
            if viewer is not None:
                await self.core.engine.audit(s, None, None, userid, "console_login", how)
        if viewer is None:
            return self.c.message("not_allowed", 403, name=person.name if person else "")
        response = web.HTTPSeeOther("/console")
        set_session(response, self.c.key, userid, secure=self.c.secure)
        return response

    async def logout(self, request: web.Request) -> web.Response:
        if not await self.c.csrf_ok(request):
            return self.c.message("csrf", 403)
        response = web.HTTPSeeOther(LOGIN_PATH)
        response.del_cookie(SESSION_COOKIE, path="/")
        return response

    # -- 总览 ---------------------------------------------------------------------------------
    async def overview(self, request: web.Request) -> web.Response:
        viewer = await self.c.gate(request)
        if isinstance(viewer, web.Response):
            return viewer
        async with self.core.db.session() as s:
            data = await queries.overview(s, self.core, viewer)
        return self.c.page(request, "console/overview.html", viewer=viewer, **data)

    async def start(self, request: web.Request) -> web.Response:
        viewer, form = await self._acting(request)
        if isinstance(viewer, web.Response):
            return viewer
        spec = self.core.specs.get(str(form.get("code", "")))
        if spec is None:
            return self.c.back("/console", self.c.note("unknown_workflow"), ok=False)
        if spec.start_form:
            return self.c.back("/console", self.c.note("start_in_chat", spec=spec), ok=False)
        flow = str(form.get("flow", "")) or None
        if flow and flow not in {f.id for f in spec.all_flows()}:
            flow = None
        if flow is None and len(spec.all_flows()) > 1:
            return self.c.back("/console", self.c.note("pick_flow", spec=spec), ok=False)
        try:
            async with self.core.db.session() as s:
                with self._refusals():
                    run = await self.core.engine.start_run(s, spec, viewer.person, flow_id=flow)
        except _Refused as exc:
            return self.c.back("/console", exc.text, ok=False)
        self.core.after_commit()
        return self.c.back(f"/console/runs/{run.id}", self.c.note("started", run=run))

    async def remind_overdue(self, request: web.Request) -> web.Response:
        """One click: 催办 every open run with someone past due (the card again, as chat's 催办)."""
        viewer, _ = await self._acting(request)
        if isinstance(viewer, web.Response):
            return viewer
        async with self.core.db.session() as s:
            late = await queries.overdue_tasks(s, self.core, viewer, self.core.clock())
            run_ids = sorted({item["run_id"] for item in late})
            people = 0
            for run_id in run_ids:
                people += len(await self.core.engine.remind(s, await s.get(Run, run_id), viewer.person))
        self.core.after_commit()
        return self.c.back("/console", self.c.note("reminded_overdue", runs=len(run_ids), people=people))

    # -- the run page --------------------------------------------------------------------------
    async def run_page(self, request: web.Request) -> web.Response:
        viewer = await self.c.gate(request)
        if isinstance(viewer, web.Response):
            return viewer
        async with self.core.db.session() as s:
            run = await self._run(s, request)
            data = await queries.run_detail(s, self.core, viewer, run) if run else None
        if data is None:
            return self.c.message("run_missing", 404)
        if viewer.department is not None and not data["steps_with_tasks"] \
                and run.subject_department != viewer.department:
            return self.c.message("other_department", 403, department=viewer.department)
        return self.c.page(request, "console/run.html", viewer=viewer, **data)

    async def run_action(self, request: web.Request) -> web.Response:
        viewer, form = await self._acting(request)
        if isinstance(viewer, web.Response):
            return viewer
        action = request.match_info["action"]
        reason = str(form.get("reason", "")).strip()[:200]
        here = f"/console/runs/{request.match_info['run_id']}"
        if action in ("skip", "close") and len(reason) < 2:
            return self.c.back(here, self.c.note("need_reason"), ok=False)
        try:
            async with self.core.db.session() as s:
                with self._refusals():
                    run = await self._run(s, request)
                    if run is None:
                        return self.c.message("run_missing", 404)
                    if action == "remind":
                        if run.status != "open":
                            return self.c.back(here, self.c.note("not_open", run=run), ok=False)
                        reached = await self.core.engine.remind(s, run, viewer.person)
                        names = await directory.names(s, reached)
                        note = self.c.note("reminded", names=sorted({names.get(u, u) for u in reached}))
                    elif action == "skip":
                        step = await self.core.engine.skip_step(s, run, viewer.person, reason)
                        note = self.c.note("skipped", step=step) if step else self.c.note("not_open", run=run)
                    else:
                        await self.core.engine.close(s, run, viewer.person, reason)
                        note = self.c.note("closed", run=run)
        except _Refused as exc:
            return self.c.back(here, exc.text, ok=False)
        self.core.after_commit()
        return self.c.back(here, note)

    async def reassign(self, request: web.Request) -> web.Response:
        viewer, form = await self._acting(request)
        if isinstance(viewer, web.Response):
            return viewer
        name, reason = str(form.get("name", "")).strip(), str(form.get("reason", "")).strip()[:200]
        here = "/console"
        try:
            async with self.core.db.session() as s:
                with self._refusals():
                    task = await s.get(Task, int(request.match_info["task_id"]))
                    run = await s.get(Run, task.run_id) if task else None
                    if task is None or run is None or run.code not in self.core.specs:
                        return self.c.message("run_missing", 404)
                    here = f"/console/runs/{run.id}"
                    new = await directory.find_person(s, name) if name else None
                    if new is None or len(reason) < 2:
                        return self.c.back(here, self.c.note("reassign_usage", name=name), ok=False)
                    ok = await self.core.engine.reassign(s, task, new, viewer.person, reason)
        except _Refused as exc:
            return self.c.back(here, exc.text, ok=False)
        self.core.after_commit()
        return self.c.back(here, self.c.note("reassigned" if ok else "stale", new=new, task=task))

    # -- files ----------------------------------------------------------------------------------
    async def download(self, request: web.Request) -> web.StreamResponse:
        viewer = await self.c.gate(request)
        if isinstance(viewer, web.Response):
            return viewer
        async with self.core.db.session() as s:
            f = await s.get(StoredFile, int(request.match_info["file_id"]))
            allowed = f is not None and f.run_id is not None and viewer.sees(f.department)
            if allowed:
                await self.core.engine.audit(s, await s.get(Run, f.run_id), None, viewer.userid,
                                             "console_file", f"{f.id} {f.filename}")
        if not allowed or not Path(f.path).is_file():
            return self.c.message("file_missing", 404)
        return file_response(f.path, f.filename, f.content_type)

    async def download_zip(self, request: web.Request) -> web.StreamResponse:
        viewer = await self.c.gate(request)
        if isinstance(viewer, web.Response):
            return viewer
        step_id = request.query.get("step", "")
        async with self.core.db.session() as s:
            run = await self._run(s, request)
            files = await queries.files_for_zip(s, viewer, run, step_id) if run else []
            if files:
                titles = {st.id: st.label for st in self.core.engine.steps(run)}
                entries = [(f.path, entry_name(titles.get(f.step_id, f.step_id), f.department or f.userid,
                                               f.id, f.filename)) for f in files]
                await self.core.engine.audit(s, run, None, viewer.userid, "console_zip", step_id or "all")
        if not files:
            return self.c.message("no_files", 404)
        target = self.core.settings.data_dir / "console" / f"run-{run.id}-{viewer.userid}.zip"
        try:
            await build_zip(target, entries)  # off the event loop, with no session open
        except ZipRefused as refused:
            return self.c.message("zip_too_big", 413, size_mb=refused.size // (1024 * 1024),
                                  limit_mb=refused.limit_mb)
        return file_response(str(target), f"{run.record_no or run.id}.zip", "application/zip")

    # -- helpers ----------------------------------------------------------------------------------
    @contextmanager
    def _refusals(self):
        """An engine refusal, worded while its values are still bound to the session, then rolled back."""
        try:
            yield
        except EngineError as exc:
            raise _Refused(self.core.renderer.text(exc.template, **exc.values)) from exc

    async def _acting(self, request: web.Request):
        """A POST by 教务处 staff with a valid CSRF token: (viewer, form), or (refusal, None)."""
        viewer = await self.c.office_post(request)
        if isinstance(viewer, web.Response):
            return viewer, None
        return viewer, await request.post()

    async def _run(self, s, request: web.Request) -> Run | None:
        run = await s.get(Run, int(request.match_info["run_id"]))
        return run if run is not None and run.code in self.core.specs else None
