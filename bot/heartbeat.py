"""Which processes are alive: each one writes its row in ``workers`` every few seconds.

Outbox claims and per-person leases name the worker that holds them. Once a
worker's ``last_seen`` is older than ``STALE_AFTER`` its process is taken for
dead (``kill -9``, a lost machine) and what it held is released, so work
resumes within seconds instead of waiting for a long timeout. A live process,
however slow its current call, keeps beating from its own task, so its claims
stay its own. A clean stop deletes the row: its leftovers are free at once.

Processes that share a database must have clocks within a few seconds of each
other (NTP); a process wrongly taken for dead costs no double delivery (outbox
requests are idempotent, inbound updates are marked done by compare-and-set).
"""
from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import ColumnElement, delete, not_, or_, select, update
from sqlalchemy.exc import IntegrityError

from bot.db import Database
from models import Worker, utcnow

log = logging.getLogger(__name__)

BEAT_EVERY = timedelta(seconds=2)
STALE_AFTER = timedelta(seconds=8)
FORGET_AFTER = timedelta(hours=1)  # rows of dead workers are deleted after this


class Heartbeat:
    """This process's identity in the database, kept fresh by a background task."""

    def __init__(self, db: Database, clock: Callable[[], datetime] = utcnow) -> None:
        self.db = db
        self.clock = clock
        self.worker_id = uuid.uuid4().hex[:16]
        self._last: datetime | None = None
        self._task: asyncio.Task | None = None

    async def beat(self) -> None:
        now = self.clock()
        async with self.db.session() as s:
            res = await s.execute(update(Worker).where(Worker.id == self.worker_id).values(last_seen=now))
            if not res.rowcount:
                s.add(Worker(id=self.worker_id, host=socket.gethostname()[:255], pid=os.getpid(),
                             started_at=now, last_seen=now))
        self._last = now

    async def ensure(self) -> None:
        """Beat unless a beat is recent: loops call this, so a worker that was never started is still seen."""
        if self._last is None or self.clock() - self._last >= BEAT_EVERY:
            try:
                await self.beat()
            except IntegrityError:  # raced with our own background beat
                pass

    def alive(self, holder: ColumnElement) -> ColumnElement[bool]:
        """SQL: ``holder`` names this process or a worker whose heartbeat is fresh."""
        fresh = select(Worker.id).where(Worker.last_seen >= self.clock() - STALE_AFTER)
        return or_(holder == self.worker_id, holder.in_(fresh))

    def dead(self, holder: ColumnElement) -> ColumnElement[bool]:
        return not_(self.alive(holder))

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="heartbeat")

    async def stop(self) -> None:
        """Stop beating and leave: what this process still holds is free for others at once."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        try:
            async with self.db.session() as s:
                await s.execute(delete(Worker).where(Worker.id == self.worker_id))
        except Exception:  # shutting down; the heartbeat going stale does the same, later
            log.exception("could not remove worker row")

    async def _loop(self) -> None:
        rounds = 0
        while True:
            try:
                await self.beat()
                rounds += 1
                if rounds % 300 == 1:
                    await self._forget_dead()
            except asyncio.CancelledError:
                raise
            except Exception:  # a database hiccup: try again next beat
                log.exception("heartbeat failed")
            await asyncio.sleep(BEAT_EVERY.total_seconds())

    async def _forget_dead(self) -> None:
        async with self.db.session() as s:
            await s.execute(delete(Worker).where(Worker.last_seen < self.clock() - FORGET_AFTER))
