"""通知 on the console: every notice with confirmed/total and late, and its confirmations as xlsx.

A notice is a run with code ``notice`` and one confirm task per recipient (handlers/notices.py);
its ``deadline`` is local time ``YYYY-MM-DD HH:MM`` or empty. A 系部 viewer sees their own people."""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import TYPE_CHECKING

from aiohttp import web
from sqlalchemy import select

from bot import directory
from bot.notices import NOTICE
from bot.console.adjust import XLSX
from bot.console.notice_compose import add_compose_routes
from bot.file_pages import file_response
from handlers.data.inert import write_text_sheets
from handlers.offload import off_loop
from models import Run, Task

if TYPE_CHECKING:
    from bot.console.web import Console

TEXTS = "console/notice_texts.j2"


def _deadline(run: Run) -> datetime | None:
    try:
        return datetime.strptime(run.data.get("deadline", ""), "%Y-%m-%d %H:%M")
    except (TypeError, ValueError):
        return None


def _late(task: Task, deadline: datetime | None, hours, now: datetime) -> bool:
    if deadline is None:
        return False
    if task.status == "open":
        return hours.local(now) > deadline
    return task.acted_at is not None and hours.local(task.acted_at) > deadline


def add_notice_routes(app: web.Application, console: "Console") -> None:
    core = console.core
    hours = core.reminders.hours

    async def listing(request: web.Request) -> web.Response:
        viewer = await console.gate(request)
        if isinstance(viewer, web.Response):
            return viewer
        now = core.clock()
        async with core.db.session() as s:
            runs = (await s.execute(select(Run).where(Run.code == NOTICE).order_by(Run.id.desc()).limit(100)))\
                .scalars().all()
            tq = select(Task).where(Task.run_id.in_([r.id for r in runs]))
            if viewer.department is not None:
                tq = tq.where(Task.department == viewer.department)
            by_run = defaultdict(list)
            for t in (await s.execute(tq)).scalars():
                by_run[t.run_id].append(t)
            who = await directory.names(s, [r.started_by for r in runs])
        items = []
        for r in runs:
            tasks, deadline = by_run.get(r.id, []), _deadline(r)
            if viewer.department is not None and not tasks:
                continue
            items.append(dict(run=r, sender=who.get(r.started_by, r.started_by), total=len(tasks),
                              done=sum(t.status == "done" for t in tasks), deadline=r.data.get("deadline", ""),
                              late=sum(_late(t, deadline, hours, now) for t in tasks)))
        return console.page(request, "console/notices.html", viewer=viewer, items=items)

    async def export(request: web.Request) -> web.StreamResponse:
        viewer = await console.gate(request)
        if isinstance(viewer, web.Response):
            return viewer
        m = lambda name, **v: core.renderer.macro(TEXTS, name, **v)  # noqa: E731 - a short local reader
        now = core.clock()
        async with core.db.session() as s:
            run = await s.get(Run, int(request.match_info["run_id"]))
            if run is None or run.code != NOTICE:
                return console.message("run_missing", 404)
            tq = select(Task).where(Task.run_id == run.id).order_by(Task.department, Task.assignee)
            if viewer.department is not None:
                tq = tq.where(Task.department == viewer.department)
            tasks = (await s.execute(tq)).scalars().all()
            who = await directory.names(s, [t.assignee for t in tasks])
            await core.engine.audit(s, run, None, viewer.userid, "console_export", "notice")
        deadline = _deadline(run)
        rows = [[who.get(t.assignee, t.assignee), t.department, m("state", done=t.status == "done"),
                 hours.local(t.acted_at).strftime("%Y-%m-%d %H:%M") if t.acted_at else "",
                 m("late") if _late(t, deadline, hours, now) else ""] for t in tasks]
        target = core.settings.data_dir / "console" / f"notice-{run.id}-{viewer.userid}.xlsx"
        await off_loop(write_text_sheets, target, [(m("sheet"), m("heads").split("|"), rows)])
        return file_response(str(target), m("filename", run=run), XLSX)

    app.router.add_get("/console/notices", listing)
    add_compose_routes(app, console)

    app.router.add_get("/console/notices/{run_id:\\d+}.xlsx", export)
