"""Files in and out over HTTP: the body of an upload page's POST, and downloads of
files the bot produced (a merged 名单, a 系部's part of a list).

An upload is read to disk with no database session open, inspected on the file
pool (``handlers/offload.py``), and only then recorded in a short session; a
refused or partial file is deleted. Downloads are served with the type found by
sniffing, ``nosniff``, and as attachments unless they are images.

The link names the person and expires, as for uploads; inside WeCom the visitor
must be that person or have rights over the run (bot/page_access.py).
Only files kept under ``settings.data_dir`` are ever served.
"""
from __future__ import annotations

import uuid
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote

from aiohttp import web

from bot import outbox
from bot.links import FILE_KIND, verify
from handlers.files import MAX_BYTES, Inspection, UploadOutcome, accept_file, discard, inspect_upload, kept_under
from handlers.offload import off_loop
from handlers.problems import Problem, render_problems
from handlers.sniff import CONTENT_TYPES, IMAGE_KINDS, safe_filename
from bot.page_access import has_rights_over, message, visitor
from models import Person, Run, StoredFile, Task

if TYPE_CHECKING:
    from bot.core import BotCore

KIND = FILE_KIND


def setup_file_routes(app: web.Application, core: "BotCore") -> None:
    async def download(request: web.Request) -> web.StreamResponse:
        raw = request.match_info["file_id"]
        if not raw.isdigit():
            return _message(core, "bad", 400)
        q = request.query
        why = verify(core.settings, KIND, int(raw), q.get("u", ""), q.get("exp", ""), q.get("sig", ""))
        if why:
            return _message(core, "refused", 403, why=why)
        who = await visitor(request, core)
        if isinstance(who, web.Response):
            return who
        async with core.db.session() as s:
            stored = await s.get(StoredFile, int(raw))
            person = await s.get(Person, q.get("u", ""))
            if who is not None and who != q.get("u", ""):  # inside WeCom, a forwarded link
                run = await s.get(Run, stored.run_id) if stored is not None and stored.run_id else None
                if run is None or not has_rights_over(run, await s.get(Person, who)):
                    return message(core, "not_yours", 403)
        if stored is None or person is None or not kept_under(Path(stored.path), Path(core.settings.data_dir)):
            return _message(core, "gone", 404)
        return file_response(stored.path, stored.filename, stored.content_type)

    app.router.add_get(f"/{KIND}/{{file_id}}", download)


SERVED_TYPES = set(CONTENT_TYPES.values())
IMAGE_TYPES = {CONTENT_TYPES[k] for k in IMAGE_KINDS}


def file_response(path: str, filename: str, content_type: str) -> web.FileResponse:
    """A stored file as a download: only a type the bot itself assigned from sniffing
    (anything else is octet-stream), never sniffed again by the browser, and an
    attachment unless it is an image."""
    ctype = content_type if content_type in SERVED_TYPES else "application/octet-stream"
    how = "inline" if ctype in IMAGE_TYPES else "attachment"
    return web.FileResponse(path, headers={
        "Content-Disposition": f"{how}; filename*=UTF-8''{quote(filename)}",
        "Content-Type": ctype,
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
    })


async def receive_upload(request: web.Request, core: "BotCore", task: Task, run: Run,
                         person: Person) -> UploadOutcome | None:
    """The upload page's POST for a task the link was verified for.

    None when the step is no longer running (the page says so). Every refused,
    partial or failed file is deleted before this returns or raises."""
    part = await _file_part(request)
    if part is _UNREADABLE:
        return UploadOutcome(False, render_problems(core.renderer, [Problem("bad_form")]))
    if part is None or not part.filename:
        return UploadOutcome(False, render_problems(core.renderer, [Problem("no_file")]))
    # Browsers send UTF-8 names as-is; some clients percent-encode them.
    name = safe_filename(unquote(part.filename))
    folder = Path(core.settings.data_dir) / "files" / "uploads" / str(run.id)
    dest = str(folder / f"{uuid.uuid4().hex[:8]}_{name}")
    outcome: UploadOutcome | None = None
    try:
        size = await save_part(part, folder, dest)
        step = core.engine.steps(run)[task.step_index]
        # Off the loop, with no session open.
        inspection: Inspection = await off_loop(inspect_upload, step, core.engine.hook(step), dest, name, size)
        outcome = await _record(core, task, run, person, dest, name, size, inspection)
        return outcome
    finally:
        if outcome is None or not outcome.accepted:
            discard(dest)


_UNREADABLE = object()


async def _file_part(request: web.Request):
    """The ``file`` part, None when there is none, ``_UNREADABLE`` when the form cannot be parsed
    (aiohttp refuses a NUL or other control character in a part's headers, e.g. in its filename)."""
    try:
        reader = await request.multipart()
    except Exception:  # noqa: BLE001 - not a multipart form at all: the page asks for a file
        return None
    try:
        part = await reader.next()
        while part is not None and part.name != "file":
            part = await reader.next()
        return part
    except Exception:  # noqa: BLE001
        return _UNREADABLE


async def save_part(part, folder: Path, dest: str) -> int:
    """Stream the part to ``dest``; stops one chunk past the limit (the size then says too big)."""
    folder.mkdir(parents=True, exist_ok=True)
    size = 0
    with open(dest, "wb") as fh:
        while chunk := await part.read_chunk(1 << 16):
            size += len(chunk)
            if size > MAX_BYTES:
                return MAX_BYTES + 1
            fh.write(chunk)
    return size


async def _record(core: "BotCore", task: Task, run: Run, person: Person, dest: str, name: str, size: int,
                  inspection: Inspection) -> UploadOutcome | None:
    """A short session: is the step still running, then the file or the refusal is written."""
    async with core.db.session() as s:
        task = await s.get(Task, task.id)
        run = await s.get(Run, run.id)
        still_running = run.status == "open" and run.step_index == task.step_index
        if task.status not in ("open", "done") or not still_running:
            return None
        outcome = await accept_file(core.engine, s, task, run, person, dest, name, size, inspection)
        if outcome.accepted:
            step = core.engine.steps(run)[task.step_index]
            msg = core.renderer.text_message("upload/result.j2", outcome=outcome, step=step, run=run, url="")
            await outbox.enqueue(s, [person.userid], msg)
    core.after_commit()
    return outcome


def _message(core: "BotCore", name: str, status: int, **values) -> web.Response:
    title = core.renderer.macro("data/download_page.j2", f"{name}_title", **values)
    text = core.renderer.macro("data/download_page.j2", f"{name}_text", **values)
    return web.Response(text=core.renderer.page("pages/message.html", title=title, text=text),
                        content_type="text/html", status=status)
