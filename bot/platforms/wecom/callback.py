"""WeCom callback routes: decrypt, turn into an :class:`Event`, hand to the sink.

Nothing is processed here. The app's sink stores the event durably (deduplicated
on ``Event.dedup_key``) and we answer 200 with an empty body as soon as it
returns, well inside WeCom's 5 s deadline. A non-200 makes WeCom deliver the
same update again (three times in all), so input problems get 4xx and only a
failing sink (storage down) gets a 500 — that retry is wanted.

Images are downloaded at once because a media_id dies after 3 days.

Hostile bodies never reach a slow path: the body is capped (:data:`MAX_BODY`,
413 above it, before reading it), and both the envelope and the decrypted
message are read by :func:`bot.platforms.wecom.xml.read_fields`, which refuses
any DTD or entity and nesting deeper than its ``MAX_DEPTH`` as it streams.
"""
from __future__ import annotations

import asyncio
import logging
import mimetypes
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.events import Attachment, Event
from bot.platforms.wecom.client import WeComClient
from bot.platforms.wecom.crypto import CallbackRejected, MalformedCallback, WeComCrypto
from bot.platforms.wecom.xml import BadXml, read_fields

log = logging.getLogger(__name__)

CALLBACK_PATH = "/wecom/callback"
PLATFORM = "wecom"
MEDIA_TIMEOUT = 3.0  # seconds; leaves room in WeCom's 5 s deadline
MAX_BODY = 64 << 10  # a callback is a few hundred bytes; a text message at most ~2 KB before encryption
MAX_DEPTH = 8  # <xml><SelectedItems><SelectedItem><OptionIds><OptionId> is the deepest WeCom sends

Sink = Callable[[Event], Awaitable[object]]
MediaFetcher = Callable[[str], Awaitable[Attachment]]


def setup_wecom_routes(
    app: web.Application,
    settings: Any,
    sink: Sink,
    media_fetcher: MediaFetcher,
    *,
    media_timeout: float = MEDIA_TIMEOUT,
) -> None:
    """Add ``GET``/``POST /wecom/callback`` to ``app``."""
    crypto = WeComCrypto(
        settings.wecom_token, settings.wecom_aes_key, settings.wecom_corp_id, max_skew=settings.wecom_max_skew
    )

    async def verify(request: web.Request) -> web.Response:
        try:
            echo = crypto.verify_url(request.query)
        except CallbackRejected as exc:
            return _reject(request, exc)
        return web.Response(body=echo.encode("utf-8"), content_type="text/plain")

    async def receive(request: web.Request) -> web.Response:
        try:
            body = await _read_capped(request, MAX_BODY)
            plaintext = crypto.decrypt_callback(request.query, body)
            event, media_id = parse_event(plaintext)
        except CallbackRejected as exc:
            return _reject(request, exc)
        if media_id:
            event = replace(event, attachment=await _fetch(media_fetcher, media_id, media_timeout))
        try:
            await sink(event)
        except Exception:
            log.exception("wecom callback: sink failed for %s; WeCom will retry", event.dedup_key)
            return web.Response(status=500)
        return web.Response(status=200)

    app.router.add_get(CALLBACK_PATH, verify)
    app.router.add_post(CALLBACK_PATH, receive)


class BodyTooLarge(CallbackRejected):
    status = 413


def parse_event(plaintext: str) -> tuple[Event, str]:
    """Event for a decrypted callback XML, plus the media_id to download ("" if none)."""
    try:
        xml_fields = read_fields(plaintext.encode("utf-8", "surrogatepass"))
        fields = {k: xml_fields.text(k) for k in (
            "FromUserName", "CreateTime", "MsgType", "MsgId", "Event", "EventKey",
            "Content", "MediaId", "TaskId", "ResponseCode",
        )}
    except BadXml as exc:
        raise MalformedCallback(f"bad message XML: {exc}") from None

    userid = fields["FromUserName"]
    if not userid:
        raise MalformedCallback("missing FromUserName")
    # Our userid is found by the inbound store from the account (person_accounts).
    common = {"platform": PLATFORM, "userid": userid, "account_id": userid, "created_at": _created_at(fields["CreateTime"])}

    msg_type = fields["MsgType"].lower()
    if msg_type == "event":
        if not fields["CreateTime"]:
            raise MalformedCallback("event without CreateTime")
        key = f"wecom:evt:{userid}:{fields['CreateTime']}:{fields['Event']}:{fields['EventKey']}"
        if fields["Event"].lower() == "template_card_event":
            return Event(
                kind="button", dedup_key=key, button_key=fields["EventKey"],
                reply_ref=fields["ResponseCode"], **common,
            ), ""
        if fields["Event"].lower() == "enter_agent":
            return Event(kind="enter", dedup_key=key, **common), ""
        return Event(kind="other", dedup_key=key, **common), ""

    if not fields["MsgId"]:
        raise MalformedCallback("message without MsgId")
    key = f"wecom:msg:{fields['MsgId']}"
    if msg_type == "text":
        return Event(kind="text", dedup_key=key, text=fields["Content"], **common), ""
    if msg_type == "image":
        return Event(kind="image", dedup_key=key, **common), fields["MediaId"]
    return Event(kind="other", dedup_key=key, **common), ""


def make_media_fetcher(client: WeComClient, files_dir: Path) -> MediaFetcher:
    """A media_fetcher that downloads via media/get and saves under ``files_dir/wecom/<date>/``."""

    async def fetch(media_id: str) -> Attachment:
        data, filename, content_type = await client.get_media(media_id)
        name = safe_filename(filename) or _fallback_name(media_id, content_type)
        day = datetime.now(timezone.utc).strftime("%Y%m%d")
        path = Path(files_dir) / "wecom" / day / f"{uuid.uuid4().hex}_{name}"
        await asyncio.to_thread(_write, path, data)
        return Attachment(path=str(path), filename=name, size=len(data), content_type=content_type)

    return fetch


def safe_filename(name: str, max_len: int = 100) -> str:
    """The last path component without control or shell-hostile characters."""
    name = re.split(r"[\\/]", name or "")[-1]
    name = re.sub(r'[\x00-\x1f\x7f<>:"|?*]', "_", name).strip(" .")
    if len(name) > max_len:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: max_len - len(ext) - 1] + dot + ext) if dot and len(ext) <= 10 else name[:max_len]
    return name


# -- internals ---------------------------------------------------------------


async def _fetch(media_fetcher: MediaFetcher, media_id: str, timeout: float) -> Attachment | None:
    """None when the download fails: the handler then asks the user to resend."""
    try:
        return await asyncio.wait_for(media_fetcher(media_id), timeout)
    except Exception as exc:  # noqa: BLE001 - any failure degrades to "please resend"
        log.warning("wecom callback: media %s not downloaded: %s", media_id[:16], type(exc).__name__)
        return None


def _created_at(create_time: str) -> datetime:
    try:
        return datetime.fromtimestamp(int(create_time), timezone.utc)
    except (ValueError, OverflowError, OSError):
        return datetime.now(timezone.utc)


def _fallback_name(media_id: str, content_type: str) -> str:
    ext = mimetypes.guess_extension(content_type or "") or ".bin"
    if ext == ".jpe":
        ext = ".jpg"
    return safe_filename(f"{media_id[:32]}{ext}") or f"media{ext}"


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    tmp.replace(path)


async def _read_capped(request: web.Request, limit: int) -> bytes:
    """The body, refused with 413 before reading when it is declared or found to be larger."""
    if request.content_length is not None and request.content_length > limit:
        raise BodyTooLarge(f"body of {request.content_length} bytes")
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.read(1 << 14):
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge("chunked body over the limit")
        chunks.append(chunk)
    return b"".join(chunks)


def _reject(request: web.Request, exc: CallbackRejected) -> web.Response:
    log.warning("wecom callback %s rejected (%d): %s", request.method, exc.status, exc.reason)
    text = {403: "forbidden", 413: "too large"}.get(exc.status, "bad request")
    return web.Response(status=exc.status, text=text)
