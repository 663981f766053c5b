"""The outbox drainer: claims due recipients in batches, sends them concurrently, records the outcome.

A round is a few statements whatever its size: one SELECT of due rows (with the accounts that route
them), one of the people with something older still waiting, one of the messages, one UPDATE that
claims every batch of the round (compare-and-set: only rows still pending are taken), then the sends,
all at once within the platform's limits, and one UPDATE (executemany) recording every batch's
outcome. What stays the same as in :mod:`bot.outbox`'s description: a batch's members and order are
fixed at its first claim and a resend is the identical request; a person's messages keep their order;
a dead worker's claims are released by its heartbeat.

Limits (WeCom: about 20,000 calls a minute per app, 30 messages a minute per person): a token bucket
per platform gates the calls, on the monotonic clock (it paces real calls); a person over their budget
is not slept on but deferred (``next_attempt_at`` moved), on the drainer's clock, which is the one
``next_attempt_at`` is compared with.
"""
from __future__ import annotations

import asyncio
import logging
import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Awaitable, Callable, NamedTuple

from sqlalchemy import DateTime, Integer, String, Text, and_, bindparam, case, func, insert, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from bot import accounts
from bot.db import Database
from bot.heartbeat import Heartbeat
from bot.loop import PollingLoop
from bot.outbound import OutboundMessage
from bot.outbox import card_id
from bot.pace import APP_CALLS_PER_MINUTE, PERSON_PER_MINUTE, PersonBudget, TokenBucket
from bot.platforms.base import PermanentSendError, PlatformSender, SendResult, TransientSendError
from models import CardCopy, OutboxMessage, OutboxRecipient, PersonAccount, utcnow

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
MAX_BATCHES_PER_ROUND = 64
MAX_IN_FLIGHT = 16  # calls in flight at once from one process
CLAIM_WINDOW = 2000  # recipient rows looked at per round
RELEASE_EVERY = timedelta(seconds=2)  # how often dead workers' claims are looked for
_IN_CHUNK = 500  # bound parameters per IN (...)

R = OutboxRecipient
_T = OutboxRecipient.__table__


class _Due(NamedTuple):
    """A due row, routed: the platform and account it goes through."""

    id: int
    outbox_id: int
    userid: str
    batch: str
    platform: str
    account: str


class _Claimed(NamedTuple):
    """A recipient row as claimed: its batch and platform as this round fixed them."""
    id: int
    userid: str
    batch: str
    platform: str
    account_id: str
    attempts: int


@dataclass
class _Plan:
    key: str
    platform: str
    outbox_id: int
    new_ids: list[int] | None  # None: a batch tried before, claimed again whole
    rows: list = field(default_factory=list)  # the claimed rows by id: (id, userid, account, attempts)
    message: OutboundMessage | None = None
    result: SendResult | None = None
    status: str = "sent"  # sent | pending (retry) | failed
    error: str = ""


def backoff(attempts: int, base: float = 2.0, cap: float = 600.0) -> timedelta:
    return timedelta(seconds=min(cap, base * (2 ** attempts)) * (0.75 + random.random() / 2))


def _rank(last_seen_at: datetime | None, order: int) -> tuple:
    """The rule of :func:`bot.accounts.routes`: the latest written-from first, then mount order."""
    return (0, -last_seen_at.timestamp(), order) if last_seen_at else (1, 0, order)


class OutboxDrainer(PollingLoop):
    """Sends what is due. Several processes may drain the same table: claims are compare-and-set."""

    loop_name = "outbox-drainer"

    def __init__(self, db: Database, senders: dict[str, PlatformSender],
                 clock: Callable[[], datetime] = utcnow, backoff_base: float = 2.0,
                 heartbeat: Heartbeat | None = None, person_per_minute: int = PERSON_PER_MINUTE,
                 app_calls_per_minute: int = APP_CALLS_PER_MINUTE):
        self.db = db
        self.senders = senders
        self.clock = clock
        self.backoff_base = backoff_base
        super().__init__()
        self.heartbeat = heartbeat or Heartbeat(db, clock)
        self.worker_id = self.heartbeat.worker_id
        self._last_release: datetime | None = None
        self.people = PersonBudget(person_per_minute)
        self.app_calls_per_minute = app_calls_per_minute
        self._apps: dict[str, TokenBucket] = {}
        self._in_flight = asyncio.Semaphore(MAX_IN_FLIGHT)
        # Told the subjects of card copies just recorded (the core settles any already decided).
        self.after_cards: Callable[[list[str]], Awaitable[None]] | None = None

    async def run_round(self) -> None:
        while not self.stopping and await self.drain_once():
            pass

    async def drain_until_idle(self, max_rounds: int = 1000) -> None:
        """Tests and the CLI: send everything due now."""
        for _ in range(max_rounds):
            if not await self.drain_once():
                return

    async def release_stale_claims(self) -> int:
        """Claims of dead workers go back to pending, to be resent as the identical request."""
        async with self.db.session() as s:
            res = await s.execute(
                update(R)
                .where(R.status == "sending", self.heartbeat.dead(R.worker))
                .values(status="pending", attempts=R.attempts + 1, claimed_by="", worker="",
                        error="worker died mid-send; resent as the identical request")
                .execution_options(synchronize_session=False)
            )
            released = res.rowcount or 0
        if released:
            log.warning("released %d recipients claimed by dead workers", released)
        return released

    async def drain_once(self) -> bool:
        """Claim due batches, send them concurrently, record the outcomes; False when nothing was claimed."""
        await self.heartbeat.ensure()
        now = self.clock()
        if self._last_release is None or now - self._last_release >= RELEASE_EVERY:
            self._last_release = now
            await self.release_stale_claims()
        token = f"{self.worker_id}:{uuid.uuid4().hex[:8]}"
        plans = await self._claim(token, MAX_BATCHES_PER_ROUND)
        if not plans:
            return False
        await asyncio.gather(*(self._send(p) for p in plans))
        await self._record(token, plans)
        return True

    async def _claim(self, token: str, max_batches: int) -> list[_Plan]:
        """Claim up to ``max_batches`` batches that share no recipient, oldest first, in one UPDATE."""
        now = self.clock()
        async with self.db.session() as s:
            due = await self._due(s, now)
            if not due:
                return []
            waiting = dict((await s.execute(
                select(R.userid, func.min(case((R.status == "sending", 0), else_=R.outbox_id)))
                .where(or_(R.status == "sending", and_(R.status == "pending", R.next_attempt_at > now)))
                .group_by(R.userid)
            )).tuples().all())
            plans, deferred = self._plan(due, waiting, now, max_batches)
            # Read before the first write: on SQLite the writer turn is held from it to the commit.
            outbox_ids = list({p.outbox_id for p in plans})
            messages = {m.id: m for m in (await s.execute(
                select(OutboxMessage).where(OutboxMessage.id.in_(outbox_ids)))).scalars()} if plans else {}
        if not plans and not deferred:
            return []
        # The writes are a transaction of their own, so on SQLite the writer turn is held only while they
        # run: the claim is a compare-and-set, and rows another process took meanwhile are not returned.
        claimed = await self.db.write(lambda conn: self._write_claims(conn, plans, deferred, token, now))
        account_of = {d.id: d.account for d in due}
        missing = [r for r in claimed if r.id not in account_of and not r.account_id]
        if missing:  # rows of an old batch beyond the window (rare)
            async with self.db.session() as s:
                for platform in {r.platform for r in missing}:
                    known = await accounts.account_ids(s, platform, [r.userid for r in missing if r.platform == platform])
                    account_of.update((r.id, known.get(r.userid, r.userid)) for r in missing if r.platform == platform)
        by_key = {p.key: p for p in plans}
        for r in sorted(claimed, key=lambda r: r.id):
            by_key[r.batch].rows.append((r.id, r.userid, r.account_id or account_of.get(r.id, r.userid), r.attempts))
        out = []
        for p in plans:
            if not p.rows:
                continue
            row = messages[p.outbox_id]
            p.message = OutboundMessage.from_json(row.message)
            if p.message.kind == "card":
                p.message.card_id = card_id(row.id, p.key)
            p.message.variant = row.variant
            out.append(p)
        return out

    async def _due(self, s: AsyncSession, now: datetime) -> list[_Due]:
        """The window of due rows with their accounts, routed; the unreachable are marked invalid.

        Not yet routed rows get the platform their accounts choose (``bot.accounts``). Someone with no
        account on any platform this process mounts cannot be reached: the row is marked invalid with
        the reason, and the rest go on.
        """
        platforms = list(self.senders)
        cand = (select(R.id, R.outbox_id, R.userid, R.batch, R.platform, R.account_id)
                .where(R.status == "pending", R.next_attempt_at <= now, R.platform.in_([*platforms, ""]))
                .order_by(R.outbox_id, R.id).limit(CLAIM_WINDOW).subquery())
        a = PersonAccount
        rows = (await s.execute(
            select(cand, a.platform.label("a_platform"), a.account_id.label("a_id"), a.last_seen_at)
            .outerjoin(a, and_(a.userid == cand.c.userid, a.platform.in_(platforms),
                               or_(cand.c.platform == "", a.platform == cand.c.platform)))
            .order_by(cand.c.outbox_id, cand.c.id)
        )).all()
        order = {p: i for i, p in enumerate(platforms)}
        best: dict[int, tuple] = {}
        first: dict[int, object] = {}
        for r in rows:
            first.setdefault(r.id, r)
            if r.a_platform is not None:
                rank = _rank(r.last_seen_at, order[r.a_platform])
                if r.id not in best or rank < best[r.id][0]:
                    best[r.id] = (rank, r.a_platform, r.a_id)
        out: list[_Due] = []
        unreachable: list[int] = []
        for i, r in first.items():
            route = best.get(i)
            platform = r.platform or (route[1] if route else "")
            if not platform:
                unreachable.append(i)
                continue
            # A row from before accounts existed was enqueued with the account id as its userid.
            account = r.account_id or (route[2] if route else r.userid)
            out.append(_Due(i, r.outbox_id, r.userid, r.batch, platform, account))
        for j in range(0, len(unreachable), _IN_CHUNK):
            await s.execute(update(R).where(R.id.in_(unreachable[j:j + _IN_CHUNK]))
                            .values(status="invalid", error="没有已接入平台上的账号")
                            .execution_options(synchronize_session=False))
        return out

    def _plan(self, due: list[_Due], waiting: dict[str, int], now: datetime,
              max_batches: int) -> tuple[list[_Plan], list[tuple[int, datetime]]]:
        """The batches to claim, oldest first, and the rows deferred for their person's budget.

        A person is skipped while an older message to them waits (pending, not due yet) or is being
        sent, and after their first row in this window (claimed or not), so their order holds.
        A batch tried before is claimed whole or not at all; new rows form new batches.
        """
        groups: dict[tuple[int, str, str], list[_Due]] = {}
        for d in due:
            groups.setdefault((d.outbox_id, d.batch, "" if d.batch else d.platform), []).append(d)
        cut = due[-1].id if len(due) >= CLAIM_WINDOW else None  # the window may have cut this group short
        taken: set[str] = set()
        plans: list[_Plan] = []
        deferred: list[tuple[int, datetime]] = []

        def free(d: _Due) -> bool:
            ok = d.userid not in taken and waiting.get(d.userid, d.outbox_id) >= d.outbox_id
            taken.add(d.userid)
            return ok

        for (outbox_id, batch, _), rows in groups.items():
            platform = rows[0].platform
            if batch:
                ok = [free(d) for d in rows]  # every member is taken, claimed or not
                if all(ok) and len(plans) < max_batches and rows[-1].id != cut:
                    for d in rows:
                        self.people.take(d.userid, now)  # a resend is never split: counted, not deferred
                    plans.append(_Plan(batch, platform, outbox_id, None))
                continue
            eligible = [d for d in rows if free(d)]
            limit = self.senders[platform].max_batch
            chunks = [eligible[i:i + limit] for i in range(0, len(eligible), limit)]
            if chunks and rows[-1].id == cut and len(chunks[-1]) < limit:
                chunks.pop()  # claimed whole next round
            for chunk in chunks:
                if len(plans) >= max_batches:
                    break
                sendable = []
                for d in chunk:
                    wait = self.people.take(d.userid, now)
                    if wait:
                        deferred.append((d.id, now + timedelta(seconds=wait)))
                    else:
                        sendable.append(d)
                if sendable:
                    plans.append(_Plan(f"{sendable[0].id}-{uuid.uuid4().hex[:6]}", platform, outbox_id,
                                       [d.id for d in sendable]))
        return plans, deferred

    def _write_claims(self, conn: Connection, plans: list[_Plan], deferred: list[tuple[int, datetime]],
                      token: str, now: datetime) -> list[_Claimed]:
        """Deferred rows' due times; one compare-and-set UPDATE claiming every batch (rows still pending, and
        unbatched if new); one executemany naming new batches. Fixed texts: a CASE per batch was compiled afresh."""
        if deferred:
            conn.execute(update(_T).where(_T.c.id == bindparam("d_id"), _T.c.status == "pending", _T.c.batch == "")
                         .values(next_attempt_at=bindparam("d_at")),
                         [{"d_id": i, "d_at": at} for i, at in deferred])
        if not plans:
            return []
        new = [p for p in plans if p.new_ids is not None]
        old_keys = [p.key for p in plans if p.new_ids is None]
        which = []
        if new:
            which.append(and_(_T.c.id.in_([i for p in new for i in p.new_ids]), _T.c.batch == ""))
        if old_keys:
            which.append(_T.c.batch.in_(old_keys))
        c = _T.c
        rows = conn.execute(update(_T).where(c.status == "pending", or_(*which))
                            .values(status="sending", claimed_by=token, worker=self.worker_id, claimed_at=now)
                            .returning(c.id, c.userid, c.batch, c.platform, c.account_id, c.attempts)).all()
        plan_of = {i: p for p in new for i in p.new_ids}
        claimed: list[_Claimed] = []
        named: list[dict] = []
        for r in rows:
            if r.batch:  # a batch tried before: claimed whole, as it was
                claimed.append(_Claimed(*r))
                continue
            p = plan_of[r.id]
            claimed.append(_Claimed(r.id, r.userid, p.key, p.platform, r.account_id, r.attempts))
            named.append({"n_id": r.id, "n_batch": p.key, "n_platform": p.platform})
        if named:
            conn.execute(update(_T).where(_T.c.id == bindparam("n_id"))
                         .values(batch=bindparam("n_batch"), platform=bindparam("n_platform")), named)
        return claimed

    def _app(self, platform: str) -> TokenBucket:
        if platform not in self._apps:
            self._apps[platform] = TokenBucket(self.app_calls_per_minute)
        return self._apps[platform]

    async def _send(self, p: _Plan) -> None:
        """One call; the outcome is kept on the plan. Never raises but for cancellation."""
        sender = self.senders[p.platform]
        async with self._in_flight:
            await self._app(p.platform).acquire()
            try:
                p.result = await sender.send([r[2] for r in p.rows], p.message, dedup=True, ref=f"{p.outbox_id}")
            except TransientSendError as exc:
                p.status, p.error = "pending", str(exc)
            except PermanentSendError as exc:
                p.status, p.error = "failed", str(exc)
            except Exception as exc:  # an unexpected bug must not lose the batch
                log.exception("sender crashed")
                p.status, p.error = "pending", f"{type(exc).__name__}: {exc}"

    async def _record(self, token: str, plans: list[_Plan]) -> None:
        """Every batch's outcome in one executemany UPDATE; invalid users and card copies beside it."""
        now = self.clock()
        invalid_ids: list[int] = []
        copies: list[dict] = []
        params: list[dict] = []
        for p in plans:
            if p.status == "sent" and p.result is not None:
                userid_of = {a: u for _, u, a, _ in p.rows}
                bad = set(p.result.invalid_users)
                invalid_ids.extend(i for i, _, a, _ in p.rows if a in bad)
                if p.message.subject and p.result.card_refs:
                    copies.extend(dict(subject=p.message.subject, userid=userid_of.get(a, a), platform=p.platform,
                                       ref=ref, outbox_id=p.outbox_id, card_id=p.message.card_id, created_at=now)
                                  for a, ref in p.result.card_refs.items())
                params.append({"k": p.key, "st": "sent", "err": None, "inc": 0, "nxt": None, "at": now,
                               "ref": p.result.ref[:255]})
                continue
            retry = p.status == "pending"
            attempts = max(r[3] for r in p.rows) + 1  # the batch waits together: one due time
            status = "pending" if retry and attempts < MAX_ATTEMPTS else "failed"
            nxt = now + backoff(attempts, self.backoff_base) if status == "pending" else None
            params.append({"k": p.key, "st": status, "err": p.error[:2000], "inc": 1 if retry else 0, "nxt": nxt,
                           "at": None, "ref": ""})
        await self.db.write(lambda conn: _write_outcomes(conn, token, invalid_ids, copies, params))
        subjects = list(dict.fromkeys(c["subject"] for c in copies))
        if subjects and self.after_cards is not None:
            await self.after_cards(subjects)  # settled while it was on its way: update it now


def _write_outcomes(conn: Connection, token: str, invalid_ids: list[int], copies: list[dict],
                    params: list[dict]) -> None:
    """A round's outcomes, in one transaction of plain statements (``Database.write``)."""
    c = _T.c
    for j in range(0, len(invalid_ids), _IN_CHUNK):
        conn.execute(update(_T).where(c.id.in_(invalid_ids[j:j + _IN_CHUNK]))
                     .values(status="invalid", error="平台报告该用户无效", claimed_by="", worker=""))
    if copies:
        conn.execute(insert(CardCopy.__table__), copies)
    conn.execute(
        update(_T).where(c.batch == bindparam("k", type_=String), c.claimed_by == token, c.status == "sending")
        .values(status=bindparam("st", type_=String), error=func.coalesce(bindparam("err", type_=Text), c.error),
                attempts=c.attempts + bindparam("inc", type_=Integer), claimed_by="", worker="",
                next_attempt_at=func.coalesce(bindparam("nxt", type_=DateTime), c.next_attempt_at),
                sent_at=func.coalesce(bindparam("at", type_=DateTime), c.sent_at),
                platform_ref=bindparam("ref", type_=String)),
        params)
