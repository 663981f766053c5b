"""通知 written on the console: the audience as checkboxes (roles, 系部, classes), a deadline,
needs-confirm, one attachment, sent now or at a time (bot/notices.py: the same notice as the chat's)."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web
from sqlalchemy import select

from bot import notices
from bot.console.forms import PostedForm
from handlers.offload import off_loop
from handlers.sniff import CONTENT_TYPES, extension, kind_for, sniff
from models import ROLES, OFFICE_DEPARTMENT, Person, SchoolClass, StoredFile

if TYPE_CHECKING:
    from bot.console.web import Console

TEXTS = "console/notice_texts.j2"
MAX_TEXT_BYTES = 1500  # as the chat's 通知 (a WeCom message holds about 2000 bytes)
LOCAL_INPUT = "%Y-%m-%dT%H:%M"  # <input type="datetime-local">


def _kind(path: str, name: str) -> str | None:
    return kind_for(extension(name), sniff(path))


def parse_local(text: str) -> datetime | None:
    try:
        return datetime.strptime(text.strip(), LOCAL_INPUT)
    except ValueError:
        return None


def add_compose_routes(app: web.Application, console: "Console") -> None:
    core = console.core
    hours = core.reminders.hours
    note = lambda which, **v: core.renderer.macro(TEXTS, which, **v)  # noqa: E731 - a short local reader

    async def choices(s) -> dict:
        people = (await s.execute(select(Person.department).distinct())).scalars().all()
        classes = (await s.execute(select(SchoolClass).order_by(SchoolClass.department, SchoolClass.name)))\
            .scalars().all()
        return dict(roles=ROLES, departments=sorted(set(people)), classes=classes)

    async def show(request, viewer, status: int = 200, error: str = "", form: PostedForm | None = None):
        async with core.db.session() as s:
            opts = await choices(s)
        return console.page(request, "console/notice_new.html", status=status, viewer=viewer, error=error,
                            form=form or PostedForm(), now=hours.local(core.clock()).strftime(LOCAL_INPUT), **opts)

    async def new(request: web.Request) -> web.Response:
        viewer = await console.gate(request)
        if isinstance(viewer, web.Response):
            return viewer
        if not viewer.is_office:
            return console.message("read_only", 403)
        return await show(request, viewer)

    async def send(request: web.Request) -> web.Response:
        found = await console.office_upload(request, Path(core.settings.data_dir) / "files" / "notices")
        if isinstance(found, web.Response):
            return found
        viewer, form = found
        error, plan = await _check(form)
        if error:
            form.discard()
            return await show(request, viewer, 400, error, form)
        data, send_at = plan
        upload = form.files[0] if form.files else None
        async with core.db.session() as s:
            people = await notices.audience(s, form.all("role"), form.all("department"), form.all("class"))
            data["recipients"] = [p.userid for p in people if p.userid != viewer.userid] or [p.userid for p in people]
            if upload is not None:
                f = StoredFile(userid=viewer.userid, department=OFFICE_DEPARTMENT, step_id=notices.ATTACHMENT_STEP,
                               filename=upload.filename, path=upload.path, size=upload.size,
                               content_type=CONTENT_TYPES[data.pop("kind")], created_at=core.clock())
                s.add(f)
                await s.flush()
                data["attachments"] = [f.id]
            run, count = await notices.create_notice(s, core, viewer.userid, data, send_at)
            if upload is not None:
                f.run_id = run.id
            action = "notice_schedule" if send_at else "notice_send"
            await core.engine.audit(s, run, None, viewer.userid, action,
                                    f"{data['audience']}；{len(data['recipients'])}人")
            flash = note("scheduled", run=run, at=form.one("send_at").replace("T", " "),
                         count=len(data["recipients"])) if send_at else note("sent", run=run, count=count)
        core.after_commit()
        return console.back(f"/console/notices/{run.id}", flash)

    async def _check(form: PostedForm) -> tuple[str, tuple[dict, datetime | None] | None]:
        """A refusal to show above the form, or (the notice's data, when to send it in UTC or None)."""
        text = form.one("text")
        now_local = hours.local(core.clock())
        if not text:
            return note("need_text"), None
        if len(text.encode()) > MAX_TEXT_BYTES:
            return note("too_long", size=len(text.encode())), None
        roles, depts, classes = form.all("role"), form.all("department"), form.all("class")
        if not roles and not classes:
            return note("need_audience"), None
        async with core.db.session() as s:
            if not await notices.audience(s, roles, depts, classes):
                return note("nobody"), None
        deadline = None
        if form.one("deadline"):
            deadline = parse_local(form.one("deadline"))
            if deadline is None or deadline <= now_local:
                return note("bad_deadline"), None
        send_at = None
        if form.one("when") == "later":
            send_at = parse_local(form.one("send_at"))
            if send_at is None or send_at <= now_local:
                return note("bad_send_at"), None
            if deadline is not None and deadline <= send_at:
                return note("deadline_before_send"), None
        if len(form.files) > 1:
            return note("one_file"), None
        data = dict(text=text, audience=_audience_words(roles, depts, classes), need_confirm=bool(form.one("confirm")),
                    deadline=deadline.strftime("%Y-%m-%d %H:%M") if deadline else "")
        if form.files:
            kind = await off_loop(_kind, form.files[0].path, form.files[0].filename)
            if kind is None:
                return note("bad_file", name=form.files[0].filename), None
            data["kind"] = kind
        return "", (data, hours.utc(send_at) if send_at else None)

    def _audience_words(roles: list[str], depts: list[str], classes: list[str]) -> str:
        return note("audience", roles=roles, departments=depts, classes=classes)

    app.router.add_get("/console/notices/new", new)
    app.router.add_post("/console/notices/new", send)

