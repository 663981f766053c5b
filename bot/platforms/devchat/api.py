"""The local chat's JSON API: what the browser posts becomes an :class:`Event`.

Each user action is stored as an "in" row (so the chat shows it) before the
event is accepted, so the bot's answer never appears above the question. Both
writes are keyed by the browser's ``client_id``: a retried post is harmless.
Input problems answer 400 with a Chinese ``message``; the API never answers 500
for what the browser sent.
"""
from __future__ import annotations

import asyncio
import logging
import re
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Awaitable, Callable
from urllib.parse import unquote

from aiohttp import BodyPartReader, web
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.events import Attachment, Event
from bot.outbound import button_style
from bot.render import CN_TZ
from bot.platforms.devchat.models import DevchatMessage

if TYPE_CHECKING:
    from bot.core import BotCore

log = logging.getLogger(__name__)

PLATFORM = "devchat"
USERID = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")  # what WeCom allows in a userid
CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{6,64}$")
MAX_TEXT = 2000  # characters; WeCom's text limit is 2048 bytes
MAX_IMAGE = 10 * 1024 * 1024  # WeCom's image limit
MAX_FIELD = 1024
PAGE = 200  # messages per poll answer
ERRORS = "devchat/errors.j2"
IMAGE_MAGIC: tuple[tuple[bytes, str, str], ...] = (
    (b"\xff\xd8\xff", "image/jpeg", ".jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
    (b"GIF87a", "image/gif", ".gif"),
    (b"GIF89a", "image/gif", ".gif"),
    (b"BM", "image/bmp", ".bmp"),
)


class BadInput(Exception):
    """What the browser sent cannot be used; ``code`` names a macro in templates/devchat/errors.j2."""

    def __init__(self, code: str, status: int = 400, **values: object) -> None:
        super().__init__(code)
        self.code, self.status, self.values = code, status, values


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def valid_userid(value: object) -> str:
    if not isinstance(value, str) or not USERID.match(value):
        raise BadInput("bad_userid")
    return value


def sniff_image(head: bytes) -> tuple[str, str] | None:
    """(content type, extension) from the bytes, not from what the browser claims."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp", ".webp"
    for magic, ctype, ext in IMAGE_MAGIC:
        if head.startswith(magic):
            return ctype, ext
    return None


def safe_filename(name: str, max_len: int = 80) -> str:
    """The last path component without control or shell-hostile characters."""
    name = re.split(r"[\\/]", name or "")[-1]
    name = re.sub(r'[\x00-\x1f\x7f<>:"|?*]', "_", name).strip(" .")
    return name[-max_len:]


def to_client(row: DevchatMessage) -> dict:
    """A stored row as the chat page draws it (never the server-side file path)."""
    m = row.message or {}
    kind = m.get("kind", "text")
    item: dict = {
        "id": row.id, "direction": row.direction, "kind": kind, "text": m.get("text", ""),
        "time": (row.created_at + CN_TZ).strftime("%H:%M") if row.created_at else "",
    }
    if kind == "card":
        card = dict(m.get("card") or {})
        card["buttons"] = [{**b, "style": button_style(b.get("style"))} for b in card.get("buttons") or []]
        item.update(card=card, card_task_id=row.card_task_id, replaced=row.replaced)
    elif kind == "image":
        item.update(image_url=f"/devchat/api/file/{row.id}", filename=m.get("filename", ""))
    return item


class DevchatApi:
    def __init__(self, core: "BotCore") -> None:
        self.core = core

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/devchat/api/messages", self._guard(self.messages)),
            web.post("/devchat/api/send", self._guard(self.send)),
            web.post("/devchat/api/click", self._guard(self.click)),
            web.post("/devchat/api/image", self._guard(self.image)),
            web.post("/devchat/api/enter", self._guard(self.enter)),
            web.get("/devchat/api/file/{id}", self._guard(self.file)),
        ]

    def error(self, exc: BadInput) -> web.Response:
        text = self.core.renderer.macro(ERRORS, exc.code, **exc.values)
        return web.json_response({"ok": False, "error": exc.code, "message": text}, status=exc.status)

    def _guard(self, handler: Handler) -> Handler:
        async def wrapped(request: web.Request) -> web.StreamResponse:
            try:
                return await handler(request)
            except BadInput as exc:
                return self.error(exc)
        return wrapped

    # --- endpoints --------------------------------------------------------------------------

    async def messages(self, request: web.Request) -> web.Response:
        """New rows after ``after``, plus the greyed-out state of cards the page already shows."""
        userid = valid_userid(request.query.get("userid"))
        raw_after = request.query.get("after", "0")
        if not raw_after.isdigit() or len(raw_after) > 18:
            raise BadInput("bad_after")
        after = int(raw_after)
        async with self.core.db.session() as s:
            q = select(DevchatMessage).where(DevchatMessage.userid == userid)
            if after:
                rows = (await s.execute(
                    q.where(DevchatMessage.id > after).order_by(DevchatMessage.id).limit(PAGE))).scalars().all()
            else:  # first load: the latest page, oldest first
                rows = list(reversed((await s.execute(
                    q.order_by(DevchatMessage.id.desc()).limit(PAGE))).scalars().all()))
            replaced = (await s.execute(
                select(DevchatMessage.id, DevchatMessage.replaced)
                .where(DevchatMessage.userid == userid, DevchatMessage.card_task_id != "",
                       DevchatMessage.replaced != "", DevchatMessage.id <= after)
            )).all() if after else []
        last = rows[-1].id if rows else after
        return web.json_response({
            "ok": True, "messages": [to_client(r) for r in rows],
            "replaced": {str(i): text for i, text in replaced}, "last_id": last,
        })

    async def send(self, request: web.Request) -> web.Response:
        data = await self._json(request)
        userid, client_id = valid_userid(data.get("userid")), self._client_id(data)
        text = data.get("text")
        if not isinstance(text, str) or not text.strip():
            raise BadInput("empty_text")
        if len(text) > MAX_TEXT:
            raise BadInput("too_long", limit=MAX_TEXT)
        shown = await self._store_in(userid, client_id, {"kind": "text", "text": text})
        event = Event(platform=PLATFORM, userid=userid, kind="text", text=text, dedup_key=f"devchat:{client_id}")
        return await self._accept(event, shown)

    async def click(self, request: web.Request) -> web.Response:
        data = await self._json(request)
        userid, client_id = valid_userid(data.get("userid")), self._client_id(data)
        key, card_task_id = data.get("key"), data.get("card_task_id")
        if not isinstance(key, str) or not key or len(key) > 255:
            raise BadInput("bad_key")
        if not isinstance(card_task_id, str) or not card_task_id or len(card_task_id) > 128:
            raise BadInput("bad_card")
        async with self.core.db.session() as s:
            card = (await s.execute(
                select(DevchatMessage).where(DevchatMessage.userid == userid, DevchatMessage.direction == "out",
                                             DevchatMessage.card_task_id == card_task_id).limit(1)
            )).scalar_one_or_none()
        if card is None:
            raise BadInput("unknown_card")
        buttons = ((card.message or {}).get("card") or {}).get("buttons") or []
        label = next((b.get("text", "") for b in buttons if b.get("key") == key), None)
        if label is None:
            raise BadInput("unknown_button")
        if card.replaced:  # WeCom disables a card's buttons once it is updated
            raise BadInput("card_done", status=409, replaced=card.replaced)
        text = self.core.renderer.text("devchat/click.j2", button=label)
        shown = await self._store_in(userid, client_id, {
            "kind": "click", "text": text, "button_key": key, "card_task_id": card_task_id})
        # The reply reference is the card's own id: that is what a card_update greys out here.
        event = Event(platform=PLATFORM, userid=userid, kind="button", button_key=key, reply_ref=card_task_id,
                      dedup_key=f"devchat:{client_id}")
        return await self._accept(event, shown)

    async def image(self, request: web.Request) -> web.Response:
        fields, upload = await self._read_multipart(request)
        userid, client_id = valid_userid(fields.get("userid")), self._client_id(fields)
        if upload is None or not upload[1]:
            raise BadInput("no_file")
        name, body = upload
        kind = sniff_image(body[:16])
        if kind is None:
            raise BadInput("not_image")
        content_type, ext = kind
        # Browsers send the name raw; aiohttp's own client percent-encodes it.
        filename = safe_filename(unquote(name)) or f"image{ext}"
        day = datetime.now(timezone.utc).strftime("%Y%m%d")
        path = (Path(self.core.settings.data_dir) / "files" / "devchat" / day
                / f"{uuid.uuid4().hex}_{filename}").resolve()
        await asyncio.to_thread(_write, path, body)
        attachment = Attachment(path=str(path), filename=filename, size=len(body), content_type=content_type)
        shown = await self._store_in(userid, client_id, {
            "kind": "image", "text": "", "filename": filename, "size": len(body),
            "content_type": content_type, "path": str(path)})
        event = Event(platform=PLATFORM, userid=userid, kind="image", attachment=attachment,
                      dedup_key=f"devchat:{client_id}")
        return await self._accept(event, shown)

    async def enter(self, request: web.Request) -> web.Response:
        """Opening the chat, like WeCom's enter_agent: the bot may greet."""
        data = await self._json(request)
        userid, client_id = valid_userid(data.get("userid")), self._client_id(data)
        event = Event(platform=PLATFORM, userid=userid, kind="enter", dedup_key=f"devchat:{client_id}")
        return await self._accept(event, None)

    async def file(self, request: web.Request) -> web.StreamResponse:
        raw = request.match_info["id"]
        if not raw.isdigit() or len(raw) > 18:
            raise BadInput("no_such_file", status=404)
        async with self.core.db.session() as s:
            row = await s.get(DevchatMessage, int(raw))
        m = (row.message or {}) if row else {}
        path = Path(m.get("path", "")) if m.get("kind") == "image" else None
        if path is None or not path.is_file():
            raise BadInput("no_such_file", status=404)
        return web.FileResponse(path, headers={"Content-Type": m.get("content_type", "application/octet-stream"),
                                               "Cache-Control": "private, max-age=3600"})

    # --- helpers ----------------------------------------------------------------------------

    async def _json(self, request: web.Request) -> dict:
        try:
            data = await request.json()
        except ValueError:  # JSONDecodeError and UnicodeDecodeError alike
            raise BadInput("bad_json") from None
        if not isinstance(data, dict):
            raise BadInput("bad_json")
        return data

    @staticmethod
    def _client_id(data: dict) -> str:
        value = data.get("client_id")
        if not isinstance(value, str) or not CLIENT_ID.match(value):
            raise BadInput("bad_client_id")
        return value

    async def _read_multipart(self, request: web.Request) -> tuple[dict[str, str], tuple[str, bytes] | None]:
        """Text fields and the one file, read with size limits (never the whole body blindly)."""
        if not request.content_type.startswith("multipart/"):
            raise BadInput("not_multipart")
        try:
            reader = await request.multipart()
            fields: dict[str, str] = {}
            upload: tuple[str, bytes] | None = None
            while (part := await reader.next()) is not None:
                if not isinstance(part, BodyPartReader):
                    raise BadInput("not_multipart")
                if part.name == "file" and upload is None:
                    upload = (part.filename or "", await _read_limited(part, MAX_IMAGE, "too_large",
                                                                       limit_mb=MAX_IMAGE // (1024 * 1024)))
                elif part.name in ("userid", "client_id"):
                    raw = await _read_limited(part, MAX_FIELD, "field_too_long", name=part.name)
                    fields[part.name] = raw.decode("utf-8", errors="replace")
                else:
                    await part.release()
        except BadInput:
            raise
        except Exception as exc:  # noqa: BLE001 - a malformed body, whatever the parser raised
            log.info("devchat image: bad multipart: %s", exc)
            raise BadInput("not_multipart") from None
        return fields, upload

    async def _store_in(self, userid: str, client_id: str, message: dict) -> int | None:
        """The user's side of the chat; None when this client_id was already shown (a retry)."""
        try:
            async with self.core.db.session() as s:
                row = DevchatMessage(userid=userid, direction="in", ref=f"in:devchat:{client_id}", message=message)
                s.add(row)
                await s.flush()
                return row.id
        except IntegrityError:
            return None

    async def _accept(self, event: Event, shown: int | None) -> web.Response:
        try:
            accepted = await self.core.accept(event)
        except Exception:  # storage trouble: the browser may retry with the same client_id
            log.exception("devchat: could not accept %s", event.dedup_key)
            raise BadInput("unavailable", status=503) from None
        return web.json_response({"ok": True, "id": shown, "accepted": accepted})


async def _read_limited(part: BodyPartReader, limit: int, code: str, **values: object) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while chunk := await part.read_chunk(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise BadInput(code, **values)
        chunks.append(chunk)
    return b"".join(chunks)


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    tmp.replace(path)
