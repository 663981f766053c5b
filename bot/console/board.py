"""The run board (all of this term's runs and requests, filtered by 系部, teacher, state and
overdue) and the 总览's chart of this term's runs by state and 系部, each read in a few grouped queries."""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime, time
from typing import TYPE_CHECKING

from aiohttp import web
from sqlalchemy import and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import directory
from bot.console.auth import Viewer
from models import Person, Run, Task

if TYPE_CHECKING:
    from bot.console.web import Console
    from bot.core import BotCore

STATES = ("open", "overdue", "done", "rejected", "cancelled")  # overdue: open, someone past due
SHOWN = 300


async def term_rows(s: AsyncSession, core: "BotCore", viewer: Viewer, since: datetime) -> list[tuple]:
    """(run id, status, 系部, tasks, closed tasks, overdue tasks) per run and 系部 since ``since``."""
    now = core.clock()
    overdue = case((and_(Task.status == "open", Task.due_at < now), 1), else_=0)
    closed = case((Task.status.in_(("done", "skipped")), 1), else_=0)
    q = (select(Run.id, Run.status, Task.department, func.count(Task.id), func.sum(closed), func.sum(overdue))
         .join(Task, Task.run_id == Run.id)
         .where(Run.created_at >= since, Run.code.in_(list(core.specs)))
         .group_by(Run.id, Run.status, Task.department))
    if viewer.department is not None:
        q = q.where(Task.department == viewer.department)
    return list((await s.execute(q)).all())


def state_of(status: str, overdue: int) -> str:
    return "overdue" if status == "open" and overdue else status


async def term_chart(s: AsyncSession, core: "BotCore", viewer: Viewer, term) -> list[dict]:
    """Per 系部: how many of this term's runs are in each state there (drawn as stacked SVG bars)."""
    since = core.reminders.hours.utc(datetime.combine(term.start, time()))
    counts: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(STATES, 0))
    for _, status, dept, _, _, late in await term_rows(s, core, viewer, since):
        if dept:
            counts[dept][state_of(status, late)] = counts[dept].get(state_of(status, late), 0) + 1
    return [dict(name=k, states=v, total=sum(v.values())) for k, v in sorted(counts.items())]


async def board(s: AsyncSession, core: "BotCore", viewer: Viewer, since: datetime, q: dict) -> list[dict]:
    rows = await term_rows(s, core, viewer, since)
    per_run: dict[int, dict] = {}
    for run_id, status, dept, total, closed, late in rows:
        r = per_run.setdefault(run_id, dict(status=status, total=0, closed=0, overdue=0, departments=set()))
        r["total"] += total
        r["closed"] += closed or 0
        r["overdue"] += late or 0
        r["departments"].add(dept)
    ids = set(per_run)
    if q["department"]:
        ids = {i for i in ids if q["department"] in per_run[i]["departments"]}
    if q["teacher"]:
        people = select(Person.userid).where(Person.name == q["teacher"])
        mine = select(Task.run_id).where(Task.assignee.in_(people) | (Task.assignee == q["teacher"]))
        started = select(Run.id).where(Run.started_by.in_(people) | (Run.started_by == q["teacher"]))
        ids &= set((await s.execute(mine)).scalars()) | set((await s.execute(started)).scalars())
    if q["state"]:
        ids = {i for i in ids if state_of(per_run[i]["status"], per_run[i]["overdue"]) == q["state"]}
    if q["overdue"]:
        ids = {i for i in ids if per_run[i]["overdue"]}
    runs = (await s.execute(select(Run).where(Run.id.in_(sorted(ids)[-SHOWN:])).order_by(Run.id.desc())))\
        .scalars().all() if ids else []
    who = await directory.names(s, [r.started_by for r in runs])
    return [dict(run=r, step=core.engine.current_step(r), starter=who.get(r.started_by, r.started_by),
                 state=state_of(r.status, per_run[r.id]["overdue"]), **{k: per_run[r.id][k] for k in
                                                                        ("total", "closed", "overdue")},
                 departments=sorted(d for d in per_run[r.id]["departments"] if d)) for r in runs]


def add_board_routes(app: web.Application, console: "Console", term_of) -> None:
    core = console.core

    async def page(request: web.Request) -> web.Response:
        viewer = await console.gate(request)
        if isinstance(viewer, web.Response):
            return viewer
        q = {k: request.query.get(k, "").strip()[:40] for k in ("department", "teacher", "state", "overdue")}
        if q["state"] not in STATES:
            q["state"] = ""
        if viewer.department is not None:
            q["department"] = viewer.department
        hours = core.reminders.hours
        term = term_of(hours.cal, hours.today(core.clock()))
        since = hours.utc(datetime.combine(term.start, time()))
        async with core.db.session() as s:
            items = await board(s, core, viewer, since, q)
            departments = sorted(set((await s.execute(select(Person.department).distinct())).scalars()))
        return console.page(request, "console/board.html", viewer=viewer, q=q, items=items, term=term,
                            departments=departments, states=STATES, shown=SHOWN)

    app.router.add_get("/console/runs", page)
