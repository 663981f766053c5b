"""Inbound updates: stored on arrival, processed in batches, one at a time per user.

The callback stores the update (deduplicated by its key, many callbacks' updates
in one transaction: ``bot.intake``) and answers once it is durable.

Workers take many people's pending updates at once. One short transaction leases
the people (a lease row each, so two processes never work on one person at the
same time) and reads their oldest pending updates; a second runs the handlers of
the whole batch in order, marks them done and frees the leases. The handlers'
effects, their outbox rows and the 'done' marks commit together: a crash means
the batch is processed again, never half. When one handler raises, the batch
rolls back and each of its people is served alone (the retry-alone fallback), so
one person's failure never undoes another's update. The 'done' mark is a
compare-and-set, so even two processes on one update commit it once.

A lease names its holder's worker: when that process dies (``kill -9``) its
heartbeat goes stale within seconds and the lease is free (``bot.heartbeat``).
"""
from __future__ import annotations

import asyncio
import itertools
import logging
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Callable, NamedTuple

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.util import identity_key

from bot import outbox
from bot.events import Event
from bot.heartbeat import Heartbeat
from bot.loop import STOP_GRACE, PollingLoop
from models import Conversation, Inbound, Person, UserLease, utcnow

if TYPE_CHECKING:
    from bot.core import BotCore

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)  # a batch is far shorter; a dead holder's lease is free sooner
MAX_ATTEMPTS = 3
BATCH_USERS = 64  # at most, people leased by one batch
BATCH_UPDATES = 128  # at most, updates read for one batch
SCAN = 512  # oldest pending updates looked at to choose a batch's people
# Handling time after which a batch commits and the rest wait for the next one: SQLite has one
# writer, and arriving callbacks wait for it. A batch leases about as many people as fit in it.
BATCH_BUDGET_SQLITE = 0.04
BATCH_BUDGET_POSTGRES = 0.1
# Batches in flight at once in one process: SQLite writes one at a time anyway; PostgreSQL's pool
# leaves connections for the callbacks, the outbox and the heartbeat.
BATCHES_SQLITE = 1
BATCHES_POSTGRES = 3


class AlreadyDone(Exception):
    """Another process committed one of these updates first: roll back ours."""


class Pending(NamedTuple):
    id: int
    userid: str
    payload: dict


def _opened_conversation(s: AsyncSession, userid: str) -> bool:
    """Whether a handler began a conversation for ``userid`` in this session: the rows are made only
    through the ORM (``Context.begin``, the stranger's note), so one is new here or in the identity map."""
    if s.identity_map.get(identity_key(Conversation, userid)) is not None:
        return True
    return any(isinstance(o, Conversation) and o.userid == userid for o in s.new)


class InboundWorker(PollingLoop):
    loop_name = "inbound-worker"

    def __init__(self, core: "BotCore", clock: Callable[[], datetime] = utcnow,
                 heartbeat: Heartbeat | None = None):
        self.core = core
        self.clock = clock
        super().__init__()
        self.heartbeat = heartbeat or Heartbeat(core.db, clock)
        self.holder = self.heartbeat.worker_id
        self.active: dict[int, asyncio.Task] = {}  # batches in flight
        self._busy: set[str] = set()  # people in this process's batches in flight
        self._numbers = itertools.count()
        self.max_batches = BATCHES_SQLITE if core.db.is_sqlite else BATCHES_POSTGRES
        self.budget = BATCH_BUDGET_SQLITE if core.db.is_sqlite else BATCH_BUDGET_POSTGRES
        self.seconds_per_update = 0.005  # a running average: how many people a batch should lease
        self.batches = 0  # committed batches (for the benchmark and tests)

    async def stop(self) -> None:
        """Batches in flight finish (they are short); one still running after the grace is cancelled."""
        await super().stop()
        running = list(self.active.values())
        if running:
            _, late = await asyncio.wait(running, timeout=STOP_GRACE)
            for t in late:
                t.cancel()
            await asyncio.gather(*running, return_exceptions=True)
        self.active.clear()

    async def run_round(self) -> None:
        await self.schedule_pending()

    async def schedule_pending(self) -> None:
        """Start batches until the process's share is in flight or nobody free is waiting."""
        await self.heartbeat.ensure()
        while len(self.active) < self.max_batches:
            users, rows = await self._claim()
            if not users:
                return
            number = next(self._numbers)
            self._busy.update(users)
            task = asyncio.create_task(self._run_batch(users, rows), name=f"inbound-batch-{number}")
            self.active[number] = task
            task.add_done_callback(lambda _t, n=number, u=users: self._done(n, u))

    def _done(self, number: int, users: list[str]) -> None:
        self.active.pop(number, None)
        self._busy.difference_update(users)
        self.poke()  # room for the next batch

    async def run_until_idle(self) -> None:
        """Tests: process everything pending now, including what processing adds."""
        for _ in range(1000):
            await self.schedule_pending()
            if not self.active:
                return
            await asyncio.gather(*list(self.active.values()), return_exceptions=True)

    async def _claim(self) -> tuple[list[str], list[Pending]]:
        """Lease the people waiting longest (one short write of its own), then read their pending updates."""
        fit = max(4, min(BATCH_USERS, round(self.budget / self.seconds_per_update)))
        async with self.core.db.session() as s:
            candidates = await self._waiting_longest(s, fit)
        if not candidates:
            return [], []
        now = self.clock()
        users = await self.core.db.write(lambda conn: self._lease(conn, list(candidates), now))
        if not users:
            return [], []
        async with self.core.db.session() as s:
            rows = (await s.execute(
                select(Inbound.id, Inbound.userid, Inbound.payload)
                .where(Inbound.userid.in_(users), Inbound.status == "pending")
                .order_by(Inbound.id).limit(min(BATCH_UPDATES, 2 * fit))
            )).all()
        return users, [Pending(*r) for r in rows]

    async def _waiting_longest(self, s: AsyncSession, fit: int) -> list[str]:
        """Up to ``fit`` people not in this process's batches, whose oldest pending update is oldest.

        The oldest ``SCAN`` pending rows are read by index (``status, id``): a grouping over every
        pending row made each batch cost more the longer the queue. Only when those rows all belong
        to people already being served is the whole queue grouped."""
        oldest = (await s.execute(select(Inbound.userid).where(Inbound.status == "pending")
                                  .order_by(Inbound.id).limit(SCAN))).scalars().all()
        found = [u for u in dict.fromkeys(oldest) if u not in self._busy][:fit]
        if found or len(oldest) < SCAN:
            return found
        waiting = select(Inbound.userid).where(Inbound.status == "pending")
        if self._busy:
            waiting = waiting.where(Inbound.userid.not_in(list(self._busy)))
        return list((await s.execute(
            waiting.group_by(Inbound.userid).order_by(func.min(Inbound.id)).limit(fit))).scalars())

    def _lease(self, conn: Connection, userids: list[str], now: datetime) -> list[str]:
        """Take these people's leases where free (ours, expired or a dead holder's); the ones now ours.

        Two statements for the whole batch: an update of the free rows and an insert of the missing
        ones, each returning what it took (plain table statements: the ORM's bulk path costs more)."""
        leases = UserLease.__table__
        free = ((leases.c.holder == self.holder) | (leases.c.expires_at < now)
                | self.heartbeat.dead(leases.c.holder))
        mine = set(conn.execute(
            update(leases).where(leases.c.userid.in_(userids), free)
            .values(holder=self.holder, expires_at=now + LEASE).returning(leases.c.userid)
        ).scalars())
        missing = [u for u in userids if u not in mine]
        if missing:
            insert = sqlite.insert if self.core.db.is_sqlite else postgresql.insert
            taken = conn.execute(
                insert(leases).on_conflict_do_nothing(index_elements=[leases.c.userid]).returning(leases.c.userid),
                [dict(userid=u, holder=self.holder, expires_at=now + LEASE) for u in missing])
            mine.update(taken.scalars())
        return [u for u in userids if u in mine]

    async def _acquire(self, userid: str) -> bool:
        """One person's lease in its own transaction."""
        now = self.clock()
        return bool(await self.core.db.write(lambda conn: self._lease(conn, [userid], now)))

    def _free(self, conn: Connection, userids: list[str], now: datetime) -> None:
        leases = UserLease.__table__
        conn.execute(update(leases).where(leases.c.userid.in_(userids), leases.c.holder == self.holder)
                     .values(expires_at=now - timedelta(seconds=1)))

    async def _run_batch(self, users: list[str], rows: list[Pending]) -> None:
        try:
            await self._process_batch(users, rows)
        except AlreadyDone:
            log.warning("an update of this batch was processed by another process; ours rolled back")
            await self._one_by_one(users)
        except Exception:
            log.exception("a batch of %d updates failed; serving each person alone", len(rows))
            await self._one_by_one(users)
        else:
            self.batches += 1
        self.core.after_commit()

    async def _process_batch(self, users: list[str], rows: list[Pending]) -> None:
        """The whole batch in one transaction: handlers in order, then the done marks and lease releases.

        A handler that raises aborts the batch (nothing of it commits) and ``_run_batch`` serves each
        person alone, where that update's failure is counted and nobody else's effects are lost.
        Failures are rare; a savepoint per update would cost two statements every time."""
        started = time.perf_counter()
        done: list[int] = []
        held_back: set[str] = set()  # people whose updates did not fit the budget: keep their order
        async with self.core.db.session() as s:
            held, no_conversation = await self._prefetch(s, users)  # noqa: F841 (kept alive for the batch)
            for row in rows:
                if row.userid in held_back:
                    continue
                if done and time.perf_counter() - started > self.budget:
                    held_back.add(row.userid)
                    continue
                await self.core.handle(s, Event.from_json(row.payload),
                                       no_conversation=row.userid in no_conversation)
                if row.userid in no_conversation and _opened_conversation(s, row.userid):
                    no_conversation.discard(row.userid)
                done.append(row.id)
            self.seconds_per_update += 0.2 * ((time.perf_counter() - started) / max(1, len(done))
                                              - self.seconds_per_update)
            # Handlers that only read and answered (帮助, 待办, 进度…) wrote nothing yet: on SQLite their
            # marks and replies are then one short write on the writer thread, below, so the writer
            # turn is not held for the rest of this transaction's round trips.
            read_only = not self.core.db.session_wrote() and not (s.new or s.dirty or s.deleted)
            now = self.clock()
            if not read_only:  # its replies are written as it commits
                await s.run_sync(lambda session: self._finish(session.connection(), done, users, [], now))
            replies = outbox.take_later(s) if read_only else []
        if read_only:
            await self.core.db.write(lambda conn: self._finish(conn, done, users, replies, now))

    def _finish(self, conn: Connection, done: list[int], users: list[str], replies: list, now: datetime) -> None:
        """A batch's done marks (compare-and-set), leases freed and, given, its replies."""
        inbound = Inbound.__table__
        marked = conn.execute(update(inbound).where(inbound.c.id.in_(done), inbound.c.status == "pending")
                              .values(status="done", processed_at=now))
        if marked.rowcount != len(done):
            raise AlreadyDone(done)
        self._free(conn, users, now)
        outbox.write_taken(conn, replies)

    async def _prefetch(self, s: AsyncSession, users: list[str]) -> tuple[list, set[str]]:
        """The batch's people and conversations in two reads, for the handlers' ``session.get``: the
        rows (held by the caller: the session's identity map keeps only weak references), and the
        people known to have no conversation (until their first update is handled)."""
        people = list((await s.execute(select(Person).where(Person.userid.in_(users)))).scalars())
        talks = list((await s.execute(select(Conversation).where(Conversation.userid.in_(users)))).scalars())
        return [*people, *talks], set(users) - {c.userid for c in talks}

    async def _record_failure(self, s: AsyncSession, row: Pending, exc: Exception) -> None:
        """Counted in the batch's transaction; after MAX_ATTEMPTS the person is told and the update set aside."""
        attempts = (await s.execute(select(Inbound.attempts).where(Inbound.id == row.id))).scalar_one() + 1
        values: dict = dict(attempts=attempts, error=f"{type(exc).__name__}: {exc}"[:2000])
        if attempts >= MAX_ATTEMPTS:
            values["status"] = "failed"
            await self.core.report_failure(s, row.userid)
        await s.execute(update(Inbound).where(Inbound.id == row.id).values(**values)
                        .execution_options(synchronize_session=False))

    async def _one_by_one(self, users: list[str]) -> None:
        """The fallback after a batch could not commit: each person's updates alone, in order."""
        for userid in users:
            try:
                if not await self._acquire(userid):
                    continue
                while await self._process_next(userid):
                    pass
                now = self.clock()
                await self.core.db.write(lambda conn: self._free(conn, [userid], now))
            except Exception:
                log.exception("serving %s alone failed", userid)

    async def _process_next(self, userid: str) -> bool:
        """Process this user's oldest pending update in its own transaction; False when there is none."""
        inbound_id = None
        try:
            async with self.core.db.session() as s:
                row = (await s.execute(
                    select(Inbound.id, Inbound.userid, Inbound.payload)
                    .where(Inbound.userid == userid, Inbound.status == "pending")
                    .order_by(Inbound.id).limit(1)
                )).one_or_none()
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
                await self._record_failure(s, Pending(*row), exc)
        self.core.after_commit()
        return True
