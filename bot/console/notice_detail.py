"""One 通知 on the console: who confirmed, per 系部 as bars (confirmed, not yet, late after the
deadline), and the office's acts on it: 催办 the non-confirmers, 撤回, or cancel one not sent yet."""
from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web
from sqlalchemy import select

from bot import directory, notices
from bot.console.notices import _deadline, _late
from models import Run, Task

if TYPE_CHECKING:
    from bot.console.web import Console

TEXTS = "console/notice_texts.j2"


def progress_by_department(tasks: list[Task], names: dict, deadline, hours, now) -> list[dict]:
    """Per 系部: confirmed in time, confirmed late, waiting, waiting past the deadline (and who waits)."""
    out: dict[str, dict] = {}
    for t in tasks:
        d = out.setdefault(t.department or "其他", dict(name=t.department or "其他", done=0, done_late=0,
                                                        waiting=0, waiting_late=0, total=0, who=[]))
        late = _late(t, deadline, hours, now)
        d["total"] += 1
        if t.status == "done":
            d["done_late" if late else "done"] += 1
        elif t.status == "open":
            d["waiting_late" if late else "waiting"] += 1
            d["who"].append(names.get(t.assignee, t.assignee))
    return [out[k] for k in sorted(out)]


def add_detail_routes(app: web.Application, console: "Console") -> None:
    core = console.core
    hours = core.reminders.hours
    note = lambda which, **v: core.renderer.macro(TEXTS, which, **v)  # noqa: E731 - a short local reader

    async def page(request: web.Request) -> web.Response:
        viewer = await console.gate(request)
        if isinstance(viewer, web.Response):
            return viewer
        now = core.clock()
        async with core.db.session() as s:
            run = await s.get(Run, int(request.match_info["run_id"]))
            if run is None or run.code != notices.NOTICE:
                return console.message("run_missing", 404)
            tq = select(Task).where(Task.run_id == run.id).order_by(Task.department, Task.assignee)
            if viewer.department is not None:
                tq = tq.where(Task.department == viewer.department)
            tasks = (await s.execute(tq)).scalars().all()
            planned = run.data.get("recipients", []) if run.status in ("scheduled", "cancelled") else []
            if viewer.department is not None and not tasks:
                return console.message("other_department", 403, department=viewer.department)
            names = await directory.names(s, [t.assignee for t in tasks] + [run.started_by])
            files = await notices.attachments(s, run)
        bars = progress_by_department(tasks, names, _deadline(run), hours, now)
        return console.page(request, "console/notice.html", viewer=viewer, run=run, bars=bars, files=files,
                            sender=names.get(run.started_by, run.started_by), planned=len(planned),
                            done=sum(b["done"] + b["done_late"] for b in bars), total=len(tasks))

    async def act(request: web.Request) -> web.Response:
        viewer = await console.office_post(request)
        if isinstance(viewer, web.Response):
            return viewer
        action = request.match_info["action"]
        here = f"/console/notices/{request.match_info['run_id']}"
        async with core.db.session() as s:
            run = await s.get(Run, int(request.match_info["run_id"]))
            if run is None or run.code != notices.NOTICE:
                return console.message("run_missing", 404)
            if action == "remind":
                waiting = await notices.remind(s, core, run) if run.status == "open" else []
                names = await directory.names(s, waiting)
                text = note("reminded", names=sorted(names.values()))
            elif action == "cancel":
                waiting = ["x"] if await notices.cancel_scheduled(s, run) else []
                text = note("cancelled" if waiting else "not_scheduled", run=run)
            else:
                waiting = await notices.withdraw(s, core, run)
                text = note("withdrawn" if waiting else "not_out", run=run, count=len(waiting))
            if waiting:
                await core.engine.audit(s, run, None, viewer.userid, f"notice_{action}", f"{len(waiting)}")
        core.after_commit()
        return console.back(here, text, ok=bool(waiting))

    app.router.add_get("/console/notices/{run_id:\\d+}", page)
    app.router.add_post("/console/notices/{run_id:\\d+}/{action:remind|cancel|withdraw}", act)
