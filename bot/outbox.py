"""The outbox: every outbound message is a row before it is sent.

Rows are written in the same transaction as the change that caused them, so a
rolled-back decision sends nothing. A drainer claims due recipients in batches
(at most the platform's ``max_batch`` per call), sends, and records the outcome
per recipient. A batch that was claimed but never confirmed (the process died
mid-call) is retried with the platform's duplicate check on, so nobody is
skipped and nobody gets it twice.
"""
from __future__ import annotations

import asyncio
import logging
import random
import uuid
from datetime import datetime, timedelta
from typing import Callable, Iterable

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import Database
from bot.loop import PollingLoop
from bot.outbound import OutboundMessage
from bot.platforms.base import PermanentSendError, PlatformSender, TransientSendError
from models import OutboxMessage, OutboxRecipient, utcnow

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
CLAIM_TIMEOUT = timedelta(seconds=120)  # a claim older than this belonged to a dead process
DUE_NOW = datetime(2000, 1, 1)
MAX_CONCURRENT_BATCHES = 8  # WeCom calls in flight at once from one process
CLAIM_WINDOW = 2000  # recipient rows looked at per claim


async def enqueue(session: AsyncSession, platform: str, userids: Iterable[str], message: OutboundMessage) -> int:
    """Store ``message`` for ``userids``; returns the outbox id. Duplicated ids are sent once."""
    unique = list(dict.fromkeys(u for u in userids if u))
    row = OutboxMessage(platform=platform, message=message.to_json())
    session.add(row)
    await session.flush()
    # Due at once whatever the clock says (tests drive a simulated one); backoff sets real times.
    session.add_all(OutboxRecipient(outbox_id=row.id, userid=u, next_attempt_at=DUE_NOW) for u in unique)
    return row.id


def backoff(attempts: int, base: float = 2.0, cap: float = 600.0) -> timedelta:
    return timedelta(seconds=min(cap, base * (2 ** attempts)) * (0.75 + random.random() / 2))


class OutboxDrainer(PollingLoop):
    """Sends what is due. Several processes may drain the same table: claims are compare-and-set."""

    loop_name = "outbox-drainer"

    def __init__(self, db: Database, senders: dict[str, PlatformSender],
                 clock: Callable[[], datetime] = utcnow, backoff_base: float = 2.0):
        self.db = db
        self.senders = senders
        self.clock = clock
        self.backoff_base = backoff_base
        super().__init__()
        self.worker_id = uuid.uuid4().hex[:12]
        self._last_release: datetime | None = None

    async def run_round(self) -> None:
        while await self.drain_once():
            pass

    async def drain_until_idle(self, max_rounds: int = 1000) -> None:
        """Tests and the CLI: send everything due now."""
        for _ in range(max_rounds):
            if not await self.drain_once():
                return

    async def release_stale_claims(self) -> int:
        """Claims left by a dead process go back to pending, marked for duplicate-checked resend."""
        now = self.clock()
        async with self.db.session() as s:
            res = await s.execute(
                update(OutboxRecipient)
                .where(OutboxRecipient.status == "sending", OutboxRecipient.claimed_at < now - CLAIM_TIMEOUT)
                .values(status="pending", attempts=OutboxRecipient.attempts + 1, claimed_by="",
                        error="claim expired; resent with duplicate check")
            )
            return res.rowcount or 0

    async def drain_once(self) -> bool:
        """Claim due batches and send them concurrently; False when nothing is due."""
        now = self.clock()
        if self._last_release is None or now - self._last_release > timedelta(seconds=10):
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

        A person's messages keep their order: a batch is skipped while an older
        message to any of its recipients is still waiting or being sent.
        """
        now = self.clock()
        token = f"{self.worker_id}:{uuid.uuid4().hex[:8]}"
        async with self.db.session() as s:
            candidates = (await s.execute(
                select(OutboxRecipient.id, OutboxRecipient.outbox_id, OutboxRecipient.userid, OutboxMessage.platform)
                .join(OutboxMessage, OutboxMessage.id == OutboxRecipient.outbox_id)
                .where(OutboxRecipient.status == "pending", OutboxRecipient.next_attempt_at <= now,
                       OutboxMessage.platform.in_(list(self.senders)))
                .order_by(OutboxRecipient.outbox_id, OutboxRecipient.id)
                .limit(CLAIM_WINDOW)
            )).all()
            if not candidates:
                return []
            users = {c.userid for c in candidates}
            blocked = set((await s.execute(
                select(OutboxRecipient.userid).where(OutboxRecipient.status == "sending",
                                                     OutboxRecipient.userid.in_(users)).distinct()
            )).scalars().all()) if len(users) <= 5000 else set()
            groups: dict[int, list] = {}
            for c in candidates:
                groups.setdefault(c.outbox_id, []).append(c)
            picked: list[int] = []
            n_batches = 0
            for outbox_id, rows in groups.items():
                limit = self.senders[rows[0].platform].max_batch
                rows = rows[:limit]
                mine = {r.userid for r in rows}
                if n_batches >= max_batches or mine & blocked:
                    blocked |= mine
                    continue
                blocked |= mine
                picked += [r.id for r in rows]
                n_batches += 1
            if not picked:
                return []
            await s.execute(
                update(OutboxRecipient)
                .where(OutboxRecipient.id.in_(picked), OutboxRecipient.status == "pending")
                .values(status="sending", claimed_by=token, claimed_at=now)
            )
            claimed = (await s.execute(
                select(OutboxRecipient).where(OutboxRecipient.claimed_by == token).order_by(OutboxRecipient.id)
            )).scalars().all()
            by_outbox: dict[int, list[OutboxRecipient]] = {}
            for r in claimed:
                by_outbox.setdefault(r.outbox_id, []).append(r)
            rows_by_id = {m.id: m for m in (await s.execute(
                select(OutboxMessage).where(OutboxMessage.id.in_(list(by_outbox)))
            )).scalars()}
        return [(rows_by_id[oid], recipients) for oid, recipients in sorted(by_outbox.items())]

    async def _send_batch(self, outbox_row: OutboxMessage, recipients: list[OutboxRecipient]) -> None:
        if not recipients:
            return
        sender = self.senders[outbox_row.platform]
        message = OutboundMessage.from_json(outbox_row.message)
        if message.kind == "card":
            # WeCom wants a task_id unique per app: one per (message, batch).
            message.card_task_id = f"c{outbox_row.id}r{recipients[0].id}"
        userids = [r.userid for r in recipients]
        resend = any(r.attempts > 0 for r in recipients)
        ids = [r.id for r in recipients]
        now = self.clock()
        try:
            result = await sender.send(userids, message, dedup=resend, ref=f"{outbox_row.id}")
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
        invalid = set(result.invalid_users)
        async with self.db.session() as s:
            await s.execute(
                update(OutboxRecipient).where(OutboxRecipient.id.in_(ids), OutboxRecipient.userid.not_in(invalid))
                .values(status="sent", sent_at=now, claimed_by="")
            )
            if invalid:
                await s.execute(
                    update(OutboxRecipient).where(OutboxRecipient.id.in_(ids), OutboxRecipient.userid.in_(invalid))
                    .values(status="invalid", error="平台报告该用户无效", claimed_by="")
                )

    async def _retry_later(self, recipients: list[OutboxRecipient], error: str) -> None:
        now = self.clock()
        async with self.db.session() as s:
            for r in recipients:
                attempts = r.attempts + 1
                values: dict = {"attempts": attempts, "error": error[:2000], "claimed_by": ""}
                if attempts >= MAX_ATTEMPTS:
                    values["status"] = "failed"
                else:
                    values["status"] = "pending"
                    values["next_attempt_at"] = now + backoff(attempts, self.backoff_base)
                await s.execute(update(OutboxRecipient).where(OutboxRecipient.id == r.id).values(**values))

    async def _mark(self, ids: list[int], *, status: str, error: str = "") -> None:
        async with self.db.session() as s:
            await s.execute(
                update(OutboxRecipient).where(OutboxRecipient.id.in_(ids))
                .values(status=status, error=error[:2000], claimed_by="")
            )


async def delivery_counts(session: AsyncSession, outbox_id: int) -> dict[str, int]:
    rows = (await session.execute(
        select(OutboxRecipient.status).where(OutboxRecipient.outbox_id == outbox_id)
    )).scalars().all()
    counts: dict[str, int] = {}
    for status in rows:
        counts[status] = counts.get(status, 0) + 1
    return counts
