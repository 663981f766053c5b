"""Group commit on the way in: many callbacks' updates stored in one transaction.

Each callback hands its update to the process's :class:`InboundWriter` and waits.
The writer takes everything that arrived while the previous commit was in flight
(at most ``MAX_ROWS``), stores it with one ``INSERT … ON CONFLICT (dedup_key) DO
NOTHING RETURNING dedup_key`` (an executemany) and one commit, then answers each waiter: True when
its row is new, False when the key was stored before (a platform retry, in this
batch or any earlier one). A callback is answered 200 only once its batch is
durable; if the commit fails every waiter of the batch gets the error (→ 500, and
WeCom delivers again).
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import datetime
from typing import Callable

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from bot import accounts
from bot.db import Database
from bot.events import Event
from models import Inbound, utcnow

log = logging.getLogger(__name__)

MAX_ROWS = 256  # rows per transaction (5 bound values each; far below either database's limit)
LINGER = 0.001  # seconds a lone update waits for company before it is written


class InboundWriter:
    """One per process; callbacks ``await writer.submit(event)``."""

    def __init__(self, db: Database, max_rows: int = MAX_ROWS, linger: float = LINGER,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.db = db
        self.clock = clock
        self.max_rows = max_rows
        self.linger = linger
        self._waiting: list[tuple[Event, asyncio.Future[bool]]] = []
        self._task: asyncio.Task | None = None
        self.batches = 0  # transactions written (for the benchmark and tests)

    async def submit(self, event: Event) -> bool:
        """Store ``event`` durably; False when its dedup key was stored before."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((event, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="inbound-writer")
        return await future

    async def _run(self) -> None:
        while self._waiting:
            if len(self._waiting) < self.max_rows:
                await asyncio.sleep(self.linger)
            batch, self._waiting = self._waiting[:self.max_rows], self._waiting[self.max_rows:]
            try:
                stored = await self._write([event for event, _ in batch])
            except Exception as exc:  # storage down: every waiter answers 500, WeCom retries
                log.exception("storing %d inbound updates failed", len(batch))
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for event, future in batch:
                if not future.done():
                    future.set_result(stored.pop(event.dedup_key, None) is not None)

    async def _write(self, events: list[Event]) -> dict[str, bool]:
        """Insert the batch's new keys; the keys actually inserted (first of a key in the batch wins).

        Each event names the platform's account (``account_id``; else ``userid``); it is mapped to
        our userid here, in the same transaction, which also records the platform the person last
        wrote from, where the outbox sends them next (``bot.accounts``). On SQLite the transaction
        runs whole on the writer thread (``Database.write``), urgent: before queued batches."""
        now = self.clock()
        insert = sqlite.insert if self.db.is_sqlite else postgresql.insert
        inserted = await self.db.write(lambda conn: _store(conn, events, now, insert), urgent=True)
        self.batches += 1
        return {key: True for key in inserted}


def _store(conn: Connection, events: list[Event], now: datetime, insert) -> list[str]:
    users = accounts.resolve_many(conn, ((e.platform, e.account_id or e.userid) for e in events), now)
    rows: dict[str, dict] = {}
    for e in events:
        if e.dedup_key in rows:
            continue
        account = e.account_id or e.userid
        e = replace(e, userid=users[(e.platform, account)], account_id=account)
        rows[e.dedup_key] = dict(dedup_key=e.dedup_key, userid=e.userid, payload=e.to_json(),
                                 status="pending", attempts=0, error="", created_at=now)
    # An executemany of one cached statement (sent as multi-row INSERTs): a VALUES list built
    # per batch was compiled afresh every time.
    table = Inbound.__table__
    stmt = insert(table).on_conflict_do_nothing(index_elements=[table.c.dedup_key]).returning(table.c.dedup_key)
    return list(conn.execute(stmt, list(rows.values())).scalars().all())
