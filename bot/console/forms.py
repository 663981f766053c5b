"""A console form with a file (通知 attachments, 通讯录 and 课表 imports): streamed to disk under
``data_dir`` with a size limit, never held in memory, the CSRF token checked before anything is kept."""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

from aiohttp import web

from handlers.files import MAX_BYTES, discard
from handlers.sniff import safe_filename

FIELD_CHARS = 4000  # a text field longer than this is cut
KEPT_SECONDS = 24 * 3600  # a previewed import nobody applied is deleted after this


@dataclass
class Upload:
    filename: str
    path: str
    size: int


@dataclass
class PostedForm:
    fields: dict[str, list[str]] = field(default_factory=dict)
    files: list[Upload] = field(default_factory=list)
    too_big: bool = False

    def one(self, name: str) -> str:
        return (self.fields.get(name) or [""])[0].strip()

    def all(self, name: str) -> list[str]:
        return [v.strip() for v in self.fields.get(name, []) if v.strip()]

    def discard(self) -> None:
        for f in self.files:
            discard(f.path)
        self.files = []


def sweep(folder: Path, now: float | None = None) -> None:
    """Delete previewed files older than a day (an import previewed and never applied)."""
    limit = (now or time.time()) - KEPT_SECONDS
    for path in folder.glob("*") if folder.is_dir() else []:
        if path.is_file() and path.stat().st_mtime < limit:
            discard(str(path))


async def read_form(request: web.Request, folder: Path) -> PostedForm | None:
    """The posted form, a multipart one's files saved in ``folder``; None when it cannot be read."""
    if request.content_type == "application/x-www-form-urlencoded":
        posted = await request.post()
        return PostedForm({k: [str(v)[:FIELD_CHARS] for v in posted.getall(k)] for k in set(posted)})
    try:
        reader = await request.multipart()
    except Exception:  # noqa: BLE001 - not multipart at all
        return None
    form = PostedForm()
    try:
        while (part := await reader.next()) is not None:
            if part.filename is None:
                value = (await part.read(decode=True)).decode("utf-8", "replace")[:FIELD_CHARS]
                form.fields.setdefault(part.name or "", []).append(value)
                continue
            if not part.filename:
                await part.release()
                continue
            name = safe_filename(unquote(part.filename))
            folder.mkdir(parents=True, exist_ok=True)
            dest = folder / f"{uuid.uuid4().hex[:8]}_{name}"
            size = 0
            with open(dest, "wb") as fh:
                while chunk := await part.read_chunk(1 << 16):
                    size += len(chunk)
                    if size > MAX_BYTES:
                        form.too_big = True
                        break
                    fh.write(chunk)
            form.files.append(Upload(name, str(dest), size))
            if form.too_big:
                break
    except Exception:  # noqa: BLE001 - a broken form keeps nothing
        form.discard()
        return None
    if form.too_big:
        form.discard()
    return form
