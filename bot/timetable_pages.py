"""The 课表 upload page for 教务处 (from the 课表 command's card) and the 课表 template download.

The same import as ``campusbot timetable import``: the file streams to disk with no session open,
is read on the file pool within handlers/sheets.py's limits, then one short session replaces the
term. The report shows on the page and arrives in chat, so the office keeps it.
"""
from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote

from aiohttp import web

from bot import outbox
from bot.file_pages import file_response, save_part
from bot.links import verify
from bot.page_access import message, visitor
from bot.reminders.working_time import calendar_for
from bot.timetable_store import TimetableReport, apply_import, plan_import
from handlers.data.inert import write_text_sheets
from handlers.files import MAX_BYTES
from handlers.offload import off_loop
from handlers.sniff import safe_filename
from handlers.timetable.report import refusal_reason, report_text
from handlers.timetable.sheet import TimetableFileError, read_file
from handlers.timetable.upload import PAGE_KIND, TEMPLATE_PATH
from models import Person
from workflow.timetable.rows import COLUMNS
from workflow.timetable.terms import term_name, term_on

if TYPE_CHECKING:
    from bot.core import BotCore

OFFICE = "教务处"
TEXTS = "timetable/page_texts.j2"
TOKEN = re.compile(r"[0-9a-f]{32}_[^/\\]+")  # a file kept from a preview: uuid4 hex + its safe name
EXAMPLE_ROWS = [["T001", "张老师", "大学英语", "信息2301、信息2302", "周一", "1-2", "1-16周", "B202"],
                ["T002", "李老师", "高等数学", "信息2301", "3", "3-4", "1-8,10-16周", "A201"]]


def setup_timetable_routes(app: web.Application, core: "BotCore") -> None:
    async def form(request: web.Request) -> web.Response:
        person = await _office_person(request, core)
        if isinstance(person, web.Response):
            return person
        return _page(core, request, person)

    async def upload(request: web.Request) -> web.Response:
        person = await _office_person(request, core)
        if isinstance(person, web.Response):
            return person
        posted = await _read_form(request, core)
        term, saved = posted.term, posted.saved
        if term not in _terms(core):
            _discard(saved)
            return _page(core, request, person, error=core.renderer.macro(TEXTS, "bad_term", given=term))
        if saved is None:
            error = core.renderer.macro(TEXTS, posted.refused, mb=MAX_BYTES >> 20)
            return _page(core, request, person, error=error, term=term)
        try:
            meetings, problems = await off_loop(read_file, saved)
        except TimetableFileError as exc:
            _discard(saved)
            return _page(core, request, person, error=refusal_reason(core.renderer, exc), term=term)
        async with core.db.session() as s:
            plan = await plan_import(s, term, meetings, problems)
            if plan.drastic and not posted.confirmed:  # nothing written: the office looks first
                text = report_text(core.renderer, plan.report)
                return _page(core, request, person, preview=plan.report, report_lines=text.splitlines(),
                             term=term, token=saved.name)
            report = await apply_import(s, plan)
            text = report_text(core.renderer, report)
            await outbox.enqueue(s, [person.userid], core.renderer.text_message(
                "timetable/imported_in_chat.j2", report=text))
        core.after_commit()
        return _page(core, request, person, report=report, report_lines=text.splitlines(), term=term)

    async def template(request: web.Request) -> web.StreamResponse:
        path = Path(core.settings.data_dir) / "files" / "templates" / "课表模板.xlsx"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            await off_loop(write_text_sheets, path, [("课表", list(COLUMNS), EXAMPLE_ROWS)])
        return file_response(str(path), "课表模板.xlsx",
                             "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")

    app.router.add_get(TEMPLATE_PATH, template)
    app.router.add_get(f"/{PAGE_KIND}/{{n:0}}", form)
    app.router.add_post(f"/{PAGE_KIND}/{{n:0}}", upload)


async def _office_person(request: web.Request, core: "BotCore") -> Person | web.Response:
    """The link's person, who must still be in 教务处; inside a platform client, the visitor too."""
    q = request.query
    why = verify(core.settings, PAGE_KIND, 0, q.get("u", ""), q.get("exp", ""), q.get("sig", ""))
    if why:
        return message(core, "timetable_refused", 403, why=why)
    who = await visitor(request, core)
    if isinstance(who, web.Response):
        return who
    if who is not None and who != q.get("u", ""):
        return message(core, "not_yours", 403)
    async with core.db.session() as s:
        person = await s.get(Person, q.get("u", ""))
    if person is None or not person.has_role(OFFICE):
        return message(core, "timetable_office_only", 403)
    return person


@dataclass
class Posted:
    term: str = ""
    saved: Path | None = None
    refused: str = "no_file"  # why nothing was saved: no_file or too_big
    confirmed: bool = False  # 确认替换 after a preview, naming the file kept from it


async def _read_form(request: web.Request, core: "BotCore") -> Posted:
    """The form sends the term, then a file, or (after a preview) the kept file's token and 确认."""
    posted = Posted()
    folder = Path(core.settings.data_dir) / "files" / "timetable"

    def keep(token: str) -> None:
        if TOKEN.fullmatch(token) and (folder / token).is_file():
            posted.saved, posted.confirmed = folder / token, True

    if request.content_type != "multipart/form-data":  # 确认替换 carries no file
        fields = await request.post()
        posted.term = str(fields.get("term", "")).strip()
        keep(str(fields.get("token", "")).strip())
        return posted
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if part.name == "term":
                posted.term = (await part.text()).strip()
            elif part.name == "token":
                keep((await part.text()).strip())
            elif part.name == "file" and part.filename and posted.saved is None:
                posted.saved = folder / f"{uuid.uuid4().hex}_{safe_filename(unquote(part.filename))}"
                if await save_part(part, folder, str(posted.saved)) > MAX_BYTES:
                    _discard(posted.saved)
                    return Posted(posted.term, None, "too_big")
    except Exception:  # noqa: BLE001 - a broken form: the page asks for the file again
        if not posted.confirmed:
            _discard(posted.saved)
        return Posted(posted.term)
    return posted


def _discard(path: Path | None) -> None:
    if path is not None:
        path.unlink(missing_ok=True)


def _terms(core: "BotCore") -> list[str]:
    return [term_name(s.start_year, s.number) for s in calendar_for(core.settings).semesters]


def _page(core: "BotCore", request: web.Request, person: Person, error: str = "",
          report: TimetableReport | None = None, report_lines: list[str] | None = None,
          term: str | None = None, preview: TimetableReport | None = None, token: str = "") -> web.Response:
    today = (core.clock() + dt.timedelta(hours=8)).date()
    current = term or term_on(calendar_for(core.settings), today)
    html = core.renderer.page("pages/timetable_upload.html", person=person, terms=_terms(core), term=current,
                              action=f"{request.path}?{request.query_string}", error=error, report=report,
                              report_lines=report_lines or [], template_url=TEMPLATE_PATH, columns=COLUMNS,
                              preview=preview, token=token)
    return web.Response(text=html, content_type="text/html", headers={"Cache-Control": "no-store"})
