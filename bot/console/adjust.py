"""调停课汇总: every 1.4 request of the term, filtered by teaching week, 系部, teacher and state,
with counts per teacher (a common 考核 figure) and an xlsx of both, written inert
(handlers/data/inert.py) on the file pool."""
from __future__ import annotations

from collections import Counter
from datetime import date
from typing import TYPE_CHECKING

from aiohttp import web
from sqlalchemy import select

from bot import directory
from bot.console.queries import term_of
from bot.file_pages import file_response
from handlers.data.inert import write_text_sheets
from handlers.offload import off_loop
from models import Run

if TYPE_CHECKING:
    from bot.console.web import Console

CODE = "1.4"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def requests(s, console: "Console", viewer, filters: dict) -> dict:
    """The term's requests matching ``filters`` (week, department, teacher, state) and per-teacher counts."""
    core = console.core
    cal = core.reminders.calendar
    term = term_of(cal, core.reminders.hours.today(core.clock()))
    runs = (await s.execute(select(Run).where(Run.code == CODE).order_by(Run.id))).scalars().all()
    who = await directory.names(s, [r.started_by for r in runs])
    rows = []
    for run in runs:
        form = run.data.get("form", {})
        original = form.get("original") or {}
        day = _day(original.get("date"))
        if day is None or not term.start <= day <= term.end:
            continue
        week = cal.teaching_week(day)
        row = dict(run=run, teacher=who.get(run.started_by, run.started_by), department=run.subject_department,
                   kind=form.get("type", ""), course=form.get("course", ""), class_name=form.get("class_name", ""),
                   day=day, week=week[1] if week else None, periods=_periods(original),
                   new_day=_day((form.get("new_slot") or {}).get("date")), state=run.status)
        if viewer.sees(row["department"]) and _matches(row, filters):
            rows.append(row)
    counts = Counter((r["teacher"], r["department"], r["kind"]) for r in rows)
    teachers: dict[tuple[str, str], dict] = {}
    for (teacher, dept, kind), n in counts.items():
        t = teachers.setdefault((teacher, dept), {"teacher": teacher, "department": dept, "total": 0})
        t[kind] = t.get(kind, 0) + n
        t["total"] += n
    departments: dict[str, dict] = {}
    for t in teachers.values():
        d = departments.setdefault(t["department"], {"department": t["department"], "teachers": 0, "total": 0})
        d["teachers"] += 1
        d["total"] += t["total"]
        for kind, n in t.items():
            if kind not in ("teacher", "department", "total"):
                d[kind] = d.get(kind, 0) + n
    return dict(term=term, rows=rows, teachers=sorted(teachers.values(), key=lambda t: (-t["total"], t["teacher"])),
                by_department=sorted(departments.values(), key=lambda d: (-d["total"], d["department"] or "")),
                weeks=list(range(1, term.weeks + 1)))


def _matches(row: dict, f: dict) -> bool:
    return (not f.get("week") or str(row["week"]) == f["week"]) and \
        (not f.get("department") or row["department"] == f["department"]) and \
        (not f.get("teacher") or f["teacher"] in row["teacher"]) and \
        (not f.get("state") or row["state"] == f["state"])


def _day(value) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except (TypeError, ValueError):
        return None


def _periods(slot: dict) -> str:
    first, last = slot.get("first"), slot.get("last")
    return f"{first}-{last}" if first and last and first != last else str(first or "")


def add_adjust_routes(app: web.Application, console: "Console") -> None:
    core = console.core
    texts = "console/adjust_texts.j2"

    def filters(request: web.Request) -> dict:
        return {k: request.query.get(k, "").strip()[:40] for k in ("week", "department", "teacher", "state")}

    async def page(request: web.Request) -> web.Response:
        viewer = await console.gate(request)
        if isinstance(viewer, web.Response):
            return viewer
        f = filters(request)
        async with core.db.session() as s:
            data = await requests(s, console, viewer, f)
            departments = await directory.teaching_departments(s)
        return console.page(request, "console/adjust.html", viewer=viewer, f=f, departments=departments,
                            query=request.query_string, **data)

    async def export(request: web.Request) -> web.StreamResponse:
        viewer = await console.gate(request)
        if isinstance(viewer, web.Response):
            return viewer
        f = filters(request)
        async with core.db.session() as s:
            data = await requests(s, console, viewer, f)
            await core.engine.audit(s, None, None, viewer.userid, "console_export", "adjust " + request.query_string)
        m = lambda name: core.renderer.macro(texts, name)  # noqa: E731 - a short local reader
        kinds = [m("type_adjust"), m("type_stop"), m("type_cover")]
        states = {k: core.renderer.macro(texts, "state", state=k) for k in ("open", "done", "rejected", "cancelled")}
        rows = [[r["run"].record_no, r["teacher"], r["department"], r["kind"], r["course"], r["class_name"],
                 r["day"].isoformat(), r["week"] or "", r["periods"], r["new_day"].isoformat() if r["new_day"] else "",
                 states.get(r["state"], r["state"])] for r in data["rows"]]
        counts = [[t["teacher"], t["department"], *[t.get(k, 0) for k in kinds], t["total"]] for t in data["teachers"]]
        by_department = [[d["department"], d["teachers"], *[d.get(k, 0) for k in kinds], d["total"]]
                         for d in data["by_department"]]
        target = core.settings.data_dir / "console" / f"adjust-{viewer.userid}.xlsx"
        await off_loop(write_text_sheets, target, [
            (m("sheet_list"), m("heads").split("|"), rows),
            (m("sheet_counts"), [m("head_teacher"), m("head_department"), *kinds, m("head_total")], counts),
            (m("sheet_departments"), [m("head_department"), m("head_teachers"), *kinds, m("head_total")],
             by_department)])
        name = core.renderer.macro(texts, "filename", term=data["term"], week=f["week"])
        return file_response(str(target), name, XLSX)

    app.router.add_get("/console/adjust", page)
    app.router.add_get("/console/adjust.xlsx", export)
