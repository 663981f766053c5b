"""Inbound updates: stored on arrival, processed one at a time per user.

The callback stores the update (deduplicated by its key, many callbacks' updates
in one transaction: ``bot.intake``) and answers once it is durable.
Workers then take each user's pending updates in order under a lease row, so
two processes never work on one person at the same time, while different
people are served concurrently (aiogram's per-user FSM lock, made durable).
The handler's effects, its outbox rows and the 'done' mark commit together:
a crash means the update is processed again, never half. The 'done' mark is a
compare-and-set, so even two processes on one update commit it once.

A lease names its holder's worker: when that process dies (``kill -9``) its
heartbeat goes stale within seconds and the lease is free (``bot.heartbeat``).
"""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Callable

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from bot.events import Event
from bot.heartbeat import Heartbeat
from bot.loop import PollingLoop
from models import Inbound, UserLease, utcnow

if TYPE_CHECKING:
    from bot.core import BotCore

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)  # renewed between updates; a dead holder's lease is free sooner
MAX_ATTEMPTS = 3
# People served at once by one process: leaves database connections for the outbox and the
# heartbeat (a starved heartbeat would make a live process look dead), oldest waiting first.
MAX_ACTIVE_USERS = 8


class AlreadyDone(Exception):
    """Another process committed this update first: roll back ours."""


class InboundWorker(PollingLoop):
    loop_name = "inbound-worker"

    def __init__(self, core: "BotCore", clock: Callable[[], datetime] = utcnow,
                 heartbeat: Heartbeat | None = None):
        self.core = core
        self.clock = clock
        super().__init__()
        self.heartbeat = heartbeat or Heartbeat(core.db, clock)
        self.holder = self.heartbeat.worker_id
        self.active: dict[str, asyncio.Task] = {}

    async def stop(self) -> None:
        await super().stop()
        for t in list(self.active.values()):
            t.cancel()
        await asyncio.gather(*self.active.values(), return_exceptions=True)
        self.active.clear()

    async def run_round(self) -> None:
        await self.schedule_pending()

    async def schedule_pending(self) -> None:
        await self.heartbeat.ensure()
        async with self.core.db.session() as s:
            users = (await s.execute(
                select(Inbound.userid).where(Inbound.status == "pending")
                .group_by(Inbound.userid).order_by(func.min(Inbound.id)).limit(MAX_ACTIVE_USERS * 4)
            )).scalars().all()
        for userid in users:
            if len(self.active) >= MAX_ACTIVE_USERS:
                break
            if userid in self.active:
                continue
            task = asyncio.create_task(self._serve_user(userid), name=f"user-{userid}")
            self.active[userid] = task
            task.add_done_callback(lambda _t, u=userid: self._done(u))

    def _done(self, userid: str) -> None:
        self.active.pop(userid, None)
        self.poke()  # room for the next person waiting

    async def run_until_idle(self) -> None:
        """Tests: process everything pending now, including what processing adds."""
        for _ in range(1000):
            await self.schedule_pending()
            if not self.active:
                return
            await asyncio.gather(*list(self.active.values()), return_exceptions=True)

    async def _acquire(self, userid: str) -> bool:
        now = self.clock()
        async with self.core.db.session() as s:
            res = await s.execute(
                update(UserLease)
                .where(UserLease.userid == userid,
                       (UserLease.holder == self.holder) | (UserLease.expires_at < now)
                       | self.heartbeat.dead(UserLease.holder))
                .values(holder=self.holder, expires_at=now + LEASE)
                .execution_options(synchronize_session=False)
            )
            if res.rowcount == 1:
                return True
        try:
            async with self.core.db.session() as s:
                s.add(UserLease(userid=userid, holder=self.holder, expires_at=now + LEASE))
            return True
        except IntegrityError:
            return False

    async def _release(self, userid: str) -> None:
        async with self.core.db.session() as s:
            await s.execute(
                update(UserLease).where(UserLease.userid == userid, UserLease.holder == self.holder)
                .values(expires_at=self.clock() - timedelta(seconds=1))
            )

    async def _serve_user(self, userid: str) -> None:
        if not await self._acquire(userid):
            return  # another process has this person; it will drain their queue
        renewed = self.clock()
        try:
            while await self._process_next(userid):
                if self.clock() - renewed > LEASE / 3:
                    if not await self._acquire(userid):
                        return  # taken for dead by another process: it serves this person now
                    renewed = self.clock()
        finally:
            await self._release(userid)

    async def _process_next(self, userid: str) -> bool:
        """Process this user's oldest pending update; False when there is none."""
        inbound_id = None
        try:
            async with self.core.db.session() as s:
                row = (await s.execute(
                    select(Inbound).where(Inbound.userid == userid, Inbound.status == "pending")
                    .order_by(Inbound.id).limit(1)
                )).scalar_one_or_none()
                if row is None:
                    return False
                inbound_id = row.id
                await self.core.handle(s, Event.from_json(row.payload))
                done = await s.execute(
                    update(Inbound).where(Inbound.id == inbound_id, Inbound.status == "pending")
                    .values(status="done", processed_at=self.clock())
                    .execution_options(synchronize_session=False)
                )
                if done.rowcount != 1:
                    raise AlreadyDone(inbound_id)
        except AlreadyDone:
            log.warning("inbound %s was processed by another process; ours rolled back", inbound_id)
            return False
        except Exception as exc:
            if inbound_id is None:
                raise
            log.exception("processing inbound %s failed", inbound_id)
            async with self.core.db.session() as s:
                row = await s.get(Inbound, inbound_id)
                row.attempts += 1
                row.error = f"{type(exc).__name__}: {exc}"[:2000]
                if row.attempts >= MAX_ATTEMPTS:
                    row.status = "failed"
                    await self.core.report_failure(s, Event.from_json(row.payload))
        self.core.after_commit()
        return True
