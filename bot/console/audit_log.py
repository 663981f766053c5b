"""The audit log page: search by person, run and date (教务处 and its leaders only)."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING

from aiohttp import web
from sqlalchemy import or_, select

from bot import directory
from models import AuditEntry, Person, Run

if TYPE_CHECKING:
    from bot.console.web import Console

PAGE = 200  # newest first, at most this many rows a page


def add_audit_routes(app: web.Application, console: "Console") -> None:
    core = console.core

    async def page(request: web.Request) -> web.Response:
        viewer = await console.gate(request)
        if isinstance(viewer, web.Response):
            return viewer
        if viewer.department is not None:
            return console.message("audit_office_only", 403)
        q = {k: request.query.get(k, "").strip()[:40] for k in ("person", "run", "day")}
        hours = core.reminders.hours
        stmt = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(PAGE)
        bad_day = False
        if q["day"]:
            try:
                day = date.fromisoformat(q["day"])
            except ValueError:
                bad_day = True
            else:
                start = hours.utc(datetime.combine(day, time()))
                stmt = stmt.where(AuditEntry.at >= start, AuditEntry.at < start + timedelta(days=1))
        async with core.db.session() as s:
            if q["person"]:
                named = or_(Person.name.contains(q["person"], autoescape=True), Person.userid == q["person"])
                ids = (await s.execute(select(Person.userid).where(named))).scalars().all()
                stmt = stmt.where(AuditEntry.actor.in_(list(ids) or [q["person"]]))
            if q["run"]:
                runs = select(Run.id).where(or_(Run.record_no == q["run"],
                                                Run.title.contains(q["run"], autoescape=True)))
                stmt = stmt.where(AuditEntry.run_id.in_(runs))
            rows = (await s.execute(stmt)).scalars().all()
            run_ids = {r.run_id for r in rows if r.run_id}
            runs = {r.id: r for r in (await s.execute(select(Run).where(Run.id.in_(run_ids)))).scalars()} \
                if run_ids else {}
            who = await directory.names(s, [r.actor for r in rows])
        return console.page(request, "console/audit.html", viewer=viewer, q=q, rows=rows, runs=runs, who=who,
                            bad_day=bad_day, limit=PAGE)

    app.router.add_get("/console/audit", page)
