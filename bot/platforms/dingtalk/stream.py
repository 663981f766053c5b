"""Stream mode: DingTalk pushes updates over a WebSocket we open, so no public URL is needed.

Our own client on aiohttp rather than the ``dingtalk-stream`` package: its 0.24.3
opens connections with blocking ``requests`` and no timeout inside the event loop,
and reconnects at once after a normal close (a gateway that closes every connection
made it reconnect thousands of times a second). Here:

- ``POST {api}/v1.0/gateway/connections/open`` (with a timeout) → ``endpoint`` + ``ticket``;
- WebSocket ``endpoint?ticket=…`` with aiohttp's heartbeat: a peer that stops
  answering pings is closed and reconnected (dead-connection detection);
- every frame is ACKed at once; SYSTEM ``ping`` echoes its data; SYSTEM ``disconnect``
  closes and reconnects; updates go to ``on_update`` after the ACK (dedup makes a
  re-delivery harmless);
- reconnects wait ``base · 2^n`` (capped, with jitter); ``n`` returns to 0 only after
  a connection stayed up ``stable_after`` seconds, so a gateway that drops every
  connection meets a growing delay, never a storm.
"""
from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote_plus

from aiohttp import ClientError, ClientSession, ClientTimeout, WSMsgType

from bot.platforms.dingtalk.events import TOPIC_CARD, TOPIC_ROBOT

log = logging.getLogger(__name__)

OPEN_PATH = "/v1.0/gateway/connections/open"
OPEN_TIMEOUT = ClientTimeout(total=10)
HEARTBEAT = 30.0  # seconds between our pings; no pong within half of it closes the socket
USER_AGENT = "campusbot"

OnUpdate = Callable[[str, Any], Awaitable[None]]


class StreamClient:
    def __init__(self, session: ClientSession, *, api_base: str, client_id: str, client_secret: str,
                 on_update: OnUpdate, backoff_base: float = 1.0, backoff_cap: float = 60.0,
                 heartbeat: float = HEARTBEAT, stable_after: float | None = None) -> None:
        self._session = session
        self.api_base = api_base.rstrip("/")
        self._client_id = client_id
        self._secret = client_secret
        self._on_update = on_update
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.heartbeat = heartbeat
        self.stable_after = stable_after if stable_after is not None else min(backoff_cap, 10 * backoff_base)
        self.connections = 0  # sockets opened, for logs and tests
        self.connected = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._ws = None
        self._stopping = False

    def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.get_running_loop().create_task(self._run(), name="dingtalk-stream")

    async def stop(self) -> None:
        self._stopping = True
        task, self._task = self._task, None
        if self._ws is not None:
            await self._ws.close()
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    def delay(self, failures: int) -> float:
        """Seconds before the next attempt after ``failures`` short-lived tries in a row (jittered)."""
        ceiling = min(self.backoff_cap, self.backoff_base * (2 ** min(failures, 30)))
        return ceiling / 2 + random.random() * ceiling / 2

    async def _run(self) -> None:
        failures = 0
        loop = asyncio.get_running_loop()
        while not self._stopping:
            started = loop.time()
            try:
                await self._connect_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any failure means: wait, then reconnect
                log.warning("dingtalk stream: %s: %s", type(exc).__name__, exc)
            finally:
                self.connected.clear()
            if self._stopping:
                return
            failures = 0 if loop.time() - started >= self.stable_after else failures + 1
            wait = self.delay(max(failures - 1, 0))
            log.info("dingtalk stream: reconnecting in %.1f s", wait)
            await asyncio.sleep(wait)

    async def _connect_once(self) -> None:
        url = await self._open_with_ticket()
        async with self._session.ws_connect(url, heartbeat=self.heartbeat, autoping=True,
                                            timeout=OPEN_TIMEOUT.total) as ws:
            self._ws = ws
            self.connections += 1
            self.connected.set()
            log.info("dingtalk stream: connected")
            try:
                async for msg in ws:
                    if msg.type != WSMsgType.TEXT:
                        if msg.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
                            break
                        continue
                    if not await self._frame(ws, msg.data):
                        break
            finally:
                self._ws = None

    async def _open_with_ticket(self) -> str:
        body = {
            "clientId": self._client_id, "clientSecret": self._secret, "ua": USER_AGENT,
            "subscriptions": [{"type": "CALLBACK", "topic": TOPIC_ROBOT}, {"type": "CALLBACK", "topic": TOPIC_CARD}],
        }
        async with self._session.post(self.api_base + OPEN_PATH, json=body, timeout=OPEN_TIMEOUT) as resp:
            answer = await resp.json(content_type=None)
            if resp.status != 200 or not isinstance(answer, dict):
                raise ClientError(f"connections/open answered HTTP {resp.status}")
        endpoint, ticket = answer.get("endpoint"), answer.get("ticket")
        if not isinstance(endpoint, str) or not isinstance(ticket, str) or not endpoint or not ticket:
            raise ClientError("connections/open gave no endpoint/ticket")
        sep = "&" if "?" in endpoint else "?"
        return f"{endpoint}{sep}ticket={quote_plus(ticket)}"

    async def _frame(self, ws, raw: str) -> bool:
        """ACK one frame, then act on it; False when the connection should end."""
        try:
            frame = json.loads(raw)
            headers = frame.get("headers") or {}
            kind, topic, message_id = frame.get("type"), headers.get("topic", ""), headers.get("messageId", "")
            data_raw = frame.get("data") or "{}"
            data = json.loads(data_raw) if isinstance(data_raw, str) else data_raw
        except (ValueError, AttributeError) as exc:
            log.warning("dingtalk stream: unreadable frame (%s)", type(exc).__name__)
            return True
        echo = data_raw if isinstance(data_raw, str) else json.dumps(data_raw)
        if kind == "SYSTEM":  # ping wants its data back; disconnect is acked the same way
            await ws.send_str(_ack(message_id, echo))
            if topic == "disconnect":
                log.info("dingtalk stream: gateway asked to reconnect (%s)", (data or {}).get("reason", ""))
                return False
            return True
        # A CALLBACK's answer is {"response": …}; an EVENT's ACK echoes its data (as the official SDK does).
        await ws.send_str(_ack(message_id, json.dumps({"response": {}}) if kind == "CALLBACK" else echo))
        try:
            await self._on_update(topic, data)
        except Exception:  # noqa: BLE001 - one bad update must not drop the connection
            log.exception("dingtalk stream: update %s on %s not taken", message_id, topic)
        return True


def _ack(message_id: str, data: str) -> str:
    return json.dumps({"code": 200, "headers": {"messageId": message_id, "contentType": "application/json"},
                       "message": "OK", "data": data})
