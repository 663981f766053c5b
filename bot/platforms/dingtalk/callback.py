"""HTTP callback mode (``CAMPUSBOT_DINGTALK_MODE=http``): ``POST /dingtalk/callback``.

DingTalk signs each request: header ``sign`` = base64(HMAC-SHA256(key = appSecret,
msg = timestamp + "\\n" + appSecret)) with header ``timestamp`` in milliseconds. A bad
or stale (> 1 hour) sign gets 403, a body we cannot read 400; neither is worth a retry.
Robot messages and card taps (recognised by ``outTrackId``) share the route.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.events import Event
from bot.platforms.dingtalk.events import BadPayload, parse_card_callback, parse_robot_message

log = logging.getLogger(__name__)

CALLBACK_PATH = "/dingtalk/callback"
MAX_SKEW_MS = 3600 * 1000
MAX_BODY = 64 << 10

Sink = Callable[[Event], Awaitable[object]]


def sign(timestamp: str, secret: str) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def sign_ok(timestamp: str, signature: str, secret: str, now_ms: int | None = None) -> bool:
    if not timestamp.isdigit() or not signature:
        return False
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    if abs(now_ms - int(timestamp)) > MAX_SKEW_MS:
        return False
    return hmac.compare_digest(sign(timestamp, secret), signature)


def setup_callback_routes(app: web.Application, secret: str, sink: Sink) -> None:
    async def receive(request: web.Request) -> web.Response:
        if not sign_ok(request.headers.get("timestamp", ""), request.headers.get("sign", ""), secret):
            log.warning("dingtalk callback rejected (403): bad or stale sign")
            return web.Response(status=403, text="forbidden")
        if request.content_length is not None and request.content_length > MAX_BODY:
            return web.Response(status=413, text="too large")
        try:
            raw = await request.content.read(MAX_BODY + 1)
            if len(raw) > MAX_BODY:
                return web.Response(status=413, text="too large")
            data = json.loads(raw)
            is_card = isinstance(data, dict) and "outTrackId" in data
            event = parse_card_callback(data) if is_card else parse_robot_message(data)
        except (ValueError, BadPayload) as exc:
            log.warning("dingtalk callback rejected (400): %s", exc)
            return web.Response(status=400, text="bad request")
        try:
            await sink(event)
        except Exception:  # storage down: ask for the retry rather than lose the message
            log.exception("dingtalk callback: sink failed for %s", event.dedup_key)
            return web.Response(status=503, text="busy")
        return web.json_response({})

    app.router.add_post(CALLBACK_PATH, receive)
