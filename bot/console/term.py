"""校历 and 课表 on the console: the loaded 校历's teaching weeks, holidays and 调休 days, and a new
课表 uploaded with its check and a preview before it replaces the term.

The preview is the import's plan (``bot.timetable_store.plan_import`` on ``handlers.timetable.sheet.read_file``),
computed without writing; applying plans again on the same kept file and applies it in one transaction.
The chat's upload page (bot/timetable_pages.py) reads and words its imports the same way."""
from __future__ import annotations

import re
import secrets
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web
from sqlalchemy import func, select

from bot.console.forms import sweep
from bot.timetable_store import apply_import, plan_import
from handlers.offload import off_loop
from handlers.timetable.report import refusal_text, report_text
from handlers.timetable.sheet import TimetableFileError, read_file
from models import TimetableMeeting
from workflow.timetable.terms import term_name, term_on

if TYPE_CHECKING:
    from bot.console.web import Console

TOKEN = re.compile(r"^[0-9a-f]{32}\.(csv|xlsx|xls)$")


def semesters_view(cal, today) -> list[dict]:
    """Each semester's weeks: Monday, the holidays and 调休 days that fall in it, exams, and now."""
    out = []
    for sem in cal.semesters:
        weeks = []
        for n in range(1, sem.weeks + 1):
            monday = sem.week_start(n)
            days = [monday + timedelta(days=i) for i in range(7)]
            weeks.append(dict(no=n, monday=monday, current=monday <= today <= monday + timedelta(days=6),
                              exam=n in sem.exam_weeks,
                              holidays=[(d, cal.holidays[d]) for d in days if d in cal.holidays],
                              workdays=[(d, cal.makeup_workdays[d]) for d in days if d in cal.makeup_workdays]))
        out.append(dict(sem=sem, term=term_name(sem.start_year, sem.number), weeks=weeks,
                        current=sem.start <= today <= sem.end))
    return out


def add_term_routes(app: web.Application, console: "Console") -> None:
    core = console.core
    store = Path(core.settings.data_dir) / "console" / "timetables"

    def terms() -> list[str]:
        return [term_name(s.start_year, s.number) for s in core.reminders.calendar.semesters]

    async def page(request: web.Request) -> web.Response:
        viewer = await console.gate(request)
        if isinstance(viewer, web.Response):
            return viewer
        cal = core.reminders.calendar
        today = core.reminders.hours.today(core.clock())
        async with core.db.session() as s:
            counts = dict((await s.execute(select(TimetableMeeting.term, func.count())
                                           .group_by(TimetableMeeting.term))).all())
        vacations = sorted(cal.vacations, key=lambda v: v.start)
        return console.page(request, "console/term.html", viewer=viewer, semesters=semesters_view(cal, today),
                            vacations=vacations, counts=counts, today=today, current_term=term_on(cal, today),
                            terms=terms())

    async def preview(request: web.Request) -> web.Response:
        found = await console.office_upload(request, store)
        if isinstance(found, web.Response):
            return found
        viewer, form = found
        term = form.one("term")
        if term not in terms() or len(form.files) != 1:
            form.discard()
            return console.back("/console/calendar", core.renderer.macro("console/term_texts.j2", "need_file"),
                                ok=False)
        upload = form.files[0]
        await off_loop(sweep, store)
        token = f"{secrets.token_hex(16)}{Path(upload.filename).suffix.lower()}"
        kept = store / token
        Path(upload.path).rename(kept)
        try:
            meetings, problems = await off_loop(read_file, kept)
        except TimetableFileError as exc:
            kept.unlink(missing_ok=True)
            return console.back("/console/calendar", refusal_text(core.renderer, exc), ok=False)
        async with core.db.session() as s:
            plan = await plan_import(s, term, meetings, problems)
        return console.page(request, "console/term_preview.html", viewer=viewer, token=token, term=term,
                            filename=upload.filename, report=plan.report, drastic=plan.drastic,
                            text=report_text(core.renderer, plan.report))

    async def apply(request: web.Request) -> web.Response:
        viewer = await console.office_post(request)
        if isinstance(viewer, web.Response):
            return viewer
        form = await request.post()
        token, term = str(form.get("token", "")), str(form.get("term", ""))
        kept = store / token
        note = lambda which, **v: core.renderer.macro("console/term_texts.j2", which, **v)  # noqa: E731
        if not TOKEN.match(token) or not kept.is_file() or term not in terms():
            return console.back("/console/calendar", note("preview_gone"), ok=False)
        try:
            meetings, problems = await off_loop(read_file, kept)
        except TimetableFileError as exc:
            return console.back("/console/calendar", refusal_text(core.renderer, exc), ok=False)
        async with core.db.session() as s:
            report = await apply_import(s, await plan_import(s, term, meetings, problems))
            await core.engine.audit(s, None, None, viewer.userid, "timetable_import",
                                    note("audit", report=report, filename=str(form.get("filename", ""))[:200]))
        kept.unlink(missing_ok=True)
        return console.back("/console/calendar", note("applied", report=report))

    app.router.add_get("/console/calendar", page)
    app.router.add_post("/console/calendar/timetable/preview", preview)
    app.router.add_post("/console/calendar/timetable/apply", apply)
