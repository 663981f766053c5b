"""The outbox: every outbound message is a row before it is sent, and each send is idempotent.

Rows are written in the same transaction as the change that caused them, so a rolled-back decision
sends nothing. A drainer claims due recipients in batches (at most the platform's ``max_batch`` per
call), sends, and records the outcome per recipient.

Nobody names a platform when sending (``enqueue``): at a recipient's first claim their accounts
(``bot.accounts``) pick it — the one they last wrote from, else the first mounted — fixed with the
batch. A recall or card update (``enqueue_on``) and a stranger's answer name theirs.

Exactly one delivery per person and message, across crashes:

* Every request carries the platform's duplicate check from its first attempt
  (``dedup=True``; WeCom's ``enable_duplicate_check``), and a resend is the
  byte-identical request: a batch's recipients are fixed on its first claim
  (``outbox_recipients.batch``), re-sent in the same order, and a card's
  ``task_id`` is derived from the outbox row and that batch key. So when a
  process dies between WeCom's answer and our "sent" mark, the resend is
  dropped by WeCom for everyone who already got it, and delivered to the rest.
* A claim names its worker; once that worker's heartbeat is stale
  (``bot.heartbeat``) the claim is released and resent within seconds.
* Two deliberately separate but identical messages to one person (帮助 asked
  twice) must both arrive, yet would be identical requests. ``enqueue`` gives
  such a repeat a ``variant`` — one more than the highest variant of an
  identical message to any of the same people in the last ``REPEAT_WINDOW`` —
  and the platform makes the request differ by it (WeCom: an invisible
  zero-width suffix on text and markdown; cards already differ by task_id).
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import random
import uuid
from datetime import datetime, timedelta
from typing import Awaitable, Callable, Iterable, NamedTuple

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.util import identity_key

from bot import accounts
from bot.db import Database
from bot.heartbeat import Heartbeat
from bot.loop import PollingLoop
from bot.outbound import OutboundMessage
from bot.platforms.base import PermanentSendError, PlatformSender, TransientSendError
from models import CardCopy, OutboxMessage, OutboxRecipient, Person, utcnow

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
DUE_NOW = datetime(2000, 1, 1)
MAX_CONCURRENT_BATCHES = 8  # WeCom calls in flight at once from one process
CLAIM_WINDOW = 2000  # recipient rows looked at per claim
RELEASE_EVERY = timedelta(seconds=2)  # how often dead workers' claims are looked for
# Twice WeCom's longest duplicate-check interval (4 h): a repeat sent later than this is distinct anyway.
REPEAT_WINDOW = timedelta(hours=8)
_IN_CHUNK = 500  # bound parameters per IN (...)


def body_hash(message: OutboundMessage) -> str:
    """The platform is not known yet, so a repeat is counted across platforms (a harmless extra variant)."""
    canonical = json.dumps(message.to_json(), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def card_id(outbox_id: int, batch: str) -> str:
    """Unique per app (WeCom's task_id rule) and the same on every resend of the batch."""
    return f"c{outbox_id}b{batch}"


Queued = NamedTuple("Queued", [("id", int), ("userids", tuple[str, ...])])  # the row; whom it reaches, in order


async def enqueue(session: AsyncSession, userids: Iterable[str], message: OutboundMessage) -> Queued:
    """Store ``message`` for ``userids`` once each, none for who left; any count told to people is from this."""
    unique = await _without_inactive(session, list(dict.fromkeys(u for u in userids if u)))
    return Queued(await _store(session, unique, message), tuple(unique))


async def _without_inactive(session: AsyncSession, userids: list[str]) -> list[str]:
    """People already read in this transaction are judged as read (a reply costs no query)."""
    gone: set[str] = set()
    unknown: list[str] = []
    for u in userids:
        person = session.identity_map.get(identity_key(Person, u))
        if person is None:
            unknown.append(u)
        elif not person.active:
            gone.add(u)
    for i in range(0, len(unknown), _IN_CHUNK):
        gone.update((await session.execute(select(Person.userid).where(
            Person.userid.in_(unknown[i:i + _IN_CHUNK]), Person.active.is_(False)))).scalars())
    return [u for u in userids if u not in gone] if gone else userids


async def enqueue_on(session: AsyncSession, platform: str, userids: Iterable[str], message: OutboundMessage) -> int:
    """Store ``message`` for ``userids`` on one named platform (a recall or card update goes where it went)."""
    return await _store(session, list(dict.fromkeys(u for u in userids if u)), message, platform=platform)


async def enqueue_to_account(session: AsyncSession, platform: str, account_id: str, key: str,
                             message: OutboundMessage) -> int:
    """An answer to an account that is nobody (a stranger), keyed by ``key`` for its order."""
    return await _store(session, [key], message, platform=platform, account_id=account_id)


async def _store(session: AsyncSession, unique: list[str], message: OutboundMessage,
                 platform: str = "", account_id: str = "") -> int:
    digest = body_hash(message)
    variant = 0 if message.kind in ("card_update", "recall") else await _repeat_variant(session, digest, unique)
    row = OutboxMessage(platform=platform, message=message.to_json(), body_hash=digest, variant=variant)
    session.add(row)
    await session.flush()
    # Due at once whatever the clock says (tests drive a simulated one); backoff sets real times.
    session.add_all(OutboxRecipient(outbox_id=row.id, userid=u, next_attempt_at=DUE_NOW,
                                    platform=platform, account_id=account_id) for u in unique)
    return row.id


async def _repeat_variant(session: AsyncSession, digest: str, userids: list[str]) -> int:
    """0 for a first message; else one more than any identical recent message to one of these people."""
    if not userids:
        return 0
    highest = -1
    since = utcnow() - REPEAT_WINDOW
    for i in range(0, len(userids), _IN_CHUNK):
        found = (await session.execute(
            select(func.max(OutboxMessage.variant))
            .join(OutboxRecipient, OutboxRecipient.outbox_id == OutboxMessage.id)
            .where(OutboxMessage.body_hash == digest, OutboxMessage.created_at >= since,
                   OutboxRecipient.userid.in_(userids[i:i + _IN_CHUNK]))
        )).scalar_one_or_none()
        if found is not None:
            highest = max(highest, found)
    return highest + 1


class _Candidate(NamedTuple):
    """A due recipient row, with the platform it is (or will be) sent through."""

    id: int
    outbox_id: int
    userid: str
    batch: str
    platform: str


def backoff(attempts: int, base: float = 2.0, cap: float = 600.0) -> timedelta:
    return timedelta(seconds=min(cap, base * (2 ** attempts)) * (0.75 + random.random() / 2))


class OutboxDrainer(PollingLoop):
    """Sends what is due. Several processes may drain the same table: claims are compare-and-set."""

    loop_name = "outbox-drainer"

    def __init__(self, db: Database, senders: dict[str, PlatformSender],
                 clock: Callable[[], datetime] = utcnow, backoff_base: float = 2.0,
                 heartbeat: Heartbeat | None = None):
        self.db = db
        self.senders = senders
        self.clock = clock
        self.backoff_base = backoff_base
        super().__init__()
        self.heartbeat = heartbeat or Heartbeat(db, clock)
        self.worker_id = self.heartbeat.worker_id
        self._last_release: datetime | None = None
        # Told the subjects of card copies just recorded (the core settles any already decided).
        self.after_cards: Callable[[list[str]], Awaitable[None]] | None = None

    async def run_round(self) -> None:
        while await self.drain_once():
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
                update(OutboxRecipient)
                .where(OutboxRecipient.status == "sending", self.heartbeat.dead(OutboxRecipient.worker))
                .values(status="pending", attempts=OutboxRecipient.attempts + 1, claimed_by="", worker="",
                        error="worker died mid-send; resent as the identical request")
                .execution_options(synchronize_session=False)
            )
            released = res.rowcount or 0
        if released:
            log.warning("released %d recipients claimed by dead workers", released)
        return released

    async def drain_once(self) -> bool:
        """Claim due batches and send them concurrently; False when nothing is due."""
        await self.heartbeat.ensure()
        now = self.clock()
        if self._last_release is None or now - self._last_release >= RELEASE_EVERY:
            self._last_release = now
            await self.release_stale_claims()
        batches = await self._claim_batches(MAX_CONCURRENT_BATCHES)
        if not batches:
            return False
        await asyncio.gather(*(self._send_batch(row, recipients) for row, recipients in batches))
        return True

    async def _claim_batch(self) -> tuple[OutboxMessage, list[OutboxRecipient]] | None:
        batches = await self._claim_batches(1)
        return batches[0] if batches else None

    async def _claim_batches(self, max_batches: int) -> list[tuple[OutboxMessage, list[OutboxRecipient]]]:
        """Claim up to ``max_batches`` batches that share no recipient, oldest first.

        A batch claimed before keeps its key and members; new batches get a key
        now. A person's messages keep their order: a batch is skipped while an
        older message to any of its recipients is still waiting or being sent.
        """
        now = self.clock()
        token = f"{self.worker_id}:{uuid.uuid4().hex[:8]}"
        async with self.db.session() as s:
            candidates = (await s.execute(
                select(OutboxRecipient.id, OutboxRecipient.outbox_id, OutboxRecipient.userid,
                       OutboxRecipient.batch, OutboxRecipient.platform)
                .where(OutboxRecipient.status == "pending", OutboxRecipient.next_attempt_at <= now,
                       OutboxRecipient.platform.in_([*self.senders, ""]))
                .order_by(OutboxRecipient.outbox_id, OutboxRecipient.id)
                .limit(CLAIM_WINDOW)
            )).all()
            candidates = await self._route(s, candidates)
            if not candidates:
                return []
            users = {c.userid for c in candidates}
            blocked = set((await s.execute(
                select(OutboxRecipient.userid).where(OutboxRecipient.status == "sending",
                                                     OutboxRecipient.userid.in_(users)).distinct()
            )).scalars().all()) if len(users) <= 5000 else set()
            units = await self._plan_units(s, candidates)
            picked: list[tuple[str, str, list[int] | None]] = []
            for key, platform, new_ids, members in units:
                if not key or len(picked) >= max_batches or members & blocked:
                    blocked |= members
                    continue
                blocked |= members
                picked.append((key, platform, new_ids))
            if not picked:
                return []
            claim = dict(status="sending", claimed_by=token, worker=self.worker_id, claimed_at=now)
            for key, platform, new_ids in picked:
                if new_ids is None:  # a batch tried before: exactly its members again
                    await s.execute(update(OutboxRecipient)
                                    .where(OutboxRecipient.batch == key, OutboxRecipient.status == "pending")
                                    .values(**claim).execution_options(synchronize_session=False))
                else:
                    for i in range(0, len(new_ids), _IN_CHUNK):
                        await s.execute(update(OutboxRecipient)
                                        .where(OutboxRecipient.id.in_(new_ids[i:i + _IN_CHUNK]),
                                               OutboxRecipient.status == "pending", OutboxRecipient.batch == "")
                                        .values(batch=key, platform=platform, **claim)
                                        .execution_options(synchronize_session=False))
            claimed = (await s.execute(
                select(OutboxRecipient).where(OutboxRecipient.claimed_by == token).order_by(OutboxRecipient.id)
            )).scalars().all()
            by_batch: dict[str, list[OutboxRecipient]] = {}
            for r in claimed:
                by_batch.setdefault(r.batch, []).append(r)
            outbox_ids = {r.outbox_id for r in claimed}
            rows_by_id = {m.id: m for m in (await s.execute(
                select(OutboxMessage).where(OutboxMessage.id.in_(list(outbox_ids)))
            )).scalars()} if outbox_ids else {}
        return [(rows_by_id[rs[0].outbox_id], rs)
                for rs in sorted(by_batch.values(), key=lambda rs: (rs[0].outbox_id, rs[0].id))]

    async def _route(self, s: AsyncSession, candidates: list) -> list[_Candidate]:
        """Give each not yet routed recipient the platform their accounts choose (``bot.accounts``).

        Someone with no account on any platform this process mounts cannot be reached: the row
        is marked invalid with the reason, and the rest go on.
        """
        unrouted = [c.userid for c in candidates if not c.platform]
        routes = await accounts.routes(s, unrouted, list(self.senders)) if unrouted else {}
        out: list[_Candidate] = []
        unreachable: list[int] = []
        for c in candidates:
            platform = c.platform or routes.get(c.userid, ("", ""))[0]
            if platform:
                out.append(_Candidate(c.id, c.outbox_id, c.userid, c.batch, platform))
            else:
                unreachable.append(c.id)
        for i in range(0, len(unreachable), _IN_CHUNK):
            await s.execute(update(OutboxRecipient).where(OutboxRecipient.id.in_(unreachable[i:i + _IN_CHUNK]))
                            .values(status="invalid", error="没有已接入平台上的账号")
                            .execution_options(synchronize_session=False))
        return out

    async def _plan_units(self, s: AsyncSession,
                          candidates: list[_Candidate]) -> list[tuple[str, str, list[int] | None, set[str]]]:
        """(batch key, platform, ids of a new batch or None for an existing one, its userids), oldest first.

        A key of "" marks rows that only block their people this round. A batch is one platform's.
        """
        groups: dict[tuple[int, str, str], list[_Candidate]] = {}
        for c in candidates:
            groups.setdefault((c.outbox_id, c.batch, "" if c.batch else c.platform), []).append(c)
        window_full = len(candidates) >= CLAIM_WINDOW
        last_id = candidates[-1].id
        units: list[tuple[int, str, str, list[int] | None, set[str]]] = []
        for (outbox_id, batch, _), rows in groups.items():
            platform = rows[0].platform
            if batch:
                members = set((await s.execute(
                    select(OutboxRecipient.userid).where(OutboxRecipient.batch == batch)
                )).scalars())
                units.append((rows[0].id, batch, platform, None, members))
                continue
            limit = self.senders[platform].max_batch
            for i in range(0, len(rows), limit):
                chunk = rows[i:i + limit]
                if window_full and len(chunk) < limit and chunk[-1].id == last_id:
                    # cut short by the window: claim it whole next round (it still blocks its people now)
                    units.append((chunk[0].id, "", platform, [], {r.userid for r in chunk}))
                    continue
                key = f"{chunk[0].id}-{uuid.uuid4().hex[:6]}"
                units.append((chunk[0].id, key, platform, [r.id for r in chunk], {r.userid for r in chunk}))
        units.sort(key=lambda u: u[0])
        return [(key, platform, ids, members) for _, key, platform, ids, members in units]

    async def _send_batch(self, outbox_row: OutboxMessage, recipients: list[OutboxRecipient]) -> None:
        if not recipients:
            return
        platform = recipients[0].platform
        sender = self.senders[platform]
        message = OutboundMessage.from_json(outbox_row.message)
        if message.kind == "card":
            message.card_id = card_id(outbox_row.id, recipients[0].batch)
        message.variant = outbox_row.variant
        ids = [r.id for r in recipients]
        async with self.db.session() as s:
            known = await accounts.account_ids(s, platform, [r.userid for r in recipients if not r.account_id])
        # A row from before accounts existed was enqueued with the account id as its userid.
        account_of = {r.userid: r.account_id or known.get(r.userid, r.userid) for r in recipients}
        userid_of = {a: u for u, a in account_of.items()}
        now = self.clock()
        try:
            result = await sender.send(list(account_of.values()), message, dedup=True, ref=f"{outbox_row.id}")
        except TransientSendError as exc:
            await self._retry_later(recipients, str(exc))
            return
        except PermanentSendError as exc:
            await self._mark(ids, status="failed", error=str(exc))
            return
        except Exception as exc:  # an unexpected bug must not lose the batch
            log.exception("sender crashed")
            await self._retry_later(recipients, f"{type(exc).__name__}: {exc}")
            return
        invalid = {userid_of.get(a, a) for a in result.invalid_users}
        async with self.db.session() as s:
            if message.subject and result.card_refs:
                s.add_all(CardCopy(subject=message.subject, userid=userid_of.get(a, a), platform=platform, ref=ref,
                                   outbox_id=outbox_row.id, card_id=message.card_id, created_at=now)
                          for a, ref in result.card_refs.items())
            await s.execute(
                update(OutboxRecipient).where(OutboxRecipient.id.in_(ids), OutboxRecipient.userid.not_in(invalid))
                .values(status="sent", sent_at=now, claimed_by="", worker="", platform_ref=result.ref[:255])
            )
            if invalid:
                await s.execute(
                    update(OutboxRecipient).where(OutboxRecipient.id.in_(ids), OutboxRecipient.userid.in_(invalid))
                    .values(status="invalid", error="平台报告该用户无效", claimed_by="", worker="")
                )
        if message.subject and result.card_refs and self.after_cards is not None:
            await self.after_cards([message.subject])  # settled while it was on its way: update it now

    async def _retry_later(self, recipients: list[OutboxRecipient], error: str) -> None:
        """The whole batch waits together (one due time), so it is resent as the same request."""
        attempts = max(r.attempts for r in recipients) + 1
        values: dict = {"attempts": attempts, "error": error[:2000], "claimed_by": "", "worker": ""}
        if attempts >= MAX_ATTEMPTS:
            values["status"] = "failed"
        else:
            values["status"] = "pending"
            values["next_attempt_at"] = self.clock() + backoff(attempts, self.backoff_base)
        ids = [r.id for r in recipients]
        async with self.db.session() as s:
            for i in range(0, len(ids), _IN_CHUNK):
                await s.execute(update(OutboxRecipient).where(OutboxRecipient.id.in_(ids[i:i + _IN_CHUNK]))
                                .values(**values))

    async def _mark(self, ids: list[int], *, status: str, error: str = "") -> None:
        async with self.db.session() as s:
            await s.execute(
                update(OutboxRecipient).where(OutboxRecipient.id.in_(ids))
                .values(status=status, error=error[:2000], claimed_by="", worker="")
            )


async def delivery_counts(session: AsyncSession, outbox_id: int) -> dict[str, int]:
    rows = (await session.execute(
        select(OutboxRecipient.status).where(OutboxRecipient.outbox_id == outbox_id)
    )).scalars().all()
    counts: dict[str, int] = {}
    for status in rows:
        counts[status] = counts.get(status, 0) + 1
    return counts
