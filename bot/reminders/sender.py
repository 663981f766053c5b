"""Sends due reminder rows, each once, even with several processes.

- a row is claimed by compare-and-set (pending → claimed) before it is touched;
- its messages go into the outbox in the transaction that marks it ``sent`` — if the
  claim was taken over meanwhile, that transaction rolls back and sends nothing;
- a claim older than CLAIM_TIMEOUT belonged to a dead process and may be taken over;
- outside working hours (``Settings.work_hours`` on 校历 working days) a due row is
  deferred to the next working slot instead of sent, so a reminder that fell due while
  the bot was down (or at night) goes out once, at the next working moment.
"""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import and_, or_, select, update

from bot.reminders.kinds import KINDS, KindContext, Outcome
from bot.reminders.working_time import WorkingTime
from models import Reminder

if TYPE_CHECKING:
    from bot.core import BotCore

log = logging.getLogger(__name__)

CLAIM_TIMEOUT = timedelta(minutes=10)  # a claim older than this is a dead process's
BATCH = 100


@dataclass
class TickReport:
    planned: int = 0
    sent: list[str] = field(default_factory=list)  # keys
    skipped: list[str] = field(default_factory=list)
    deferred: int = 0


class _LostClaim(Exception):
    """Another process took the claim over; this transaction must not commit."""


class ReminderSender:
    """Claims due rows by compare-and-set and turns each into outbox rows, once."""

    def __init__(self, core: "BotCore", hours: WorkingTime, worker_id: str | None = None):
        self.core = core
        self.hours = hours
        self.worker_id = worker_id or uuid.uuid4().hex[:12]
        self.kind_context = KindContext(core, hours)

    async def send_due(self, now: datetime, report: TickReport | None = None) -> TickReport:
        """Send (or, outside working time, defer) every row due at ``now``.

        A row whose delivery raised stays claimed; once the claim expires a later tick retries it.
        """
        report = report or TickReport()
        while True:
            ids = await self._due_ids(now)
            if not ids:
                return report
            if not self.hours.contains(now):
                report.deferred += await self._defer(ids, now)
                return report
            claimed = await self._claim(ids, now)
            for row in claimed:
                outcome = await self._deliver(row, now)
                if outcome is not None:
                    (report.sent if outcome.status == "sent" else report.skipped).append(row.key)
            if len(ids) < BATCH:
                return report

    def due_clause(self, now: datetime):
        """Due and claimable: pending, or claimed so long ago that its process must be dead."""
        return and_(Reminder.due_at <= now, or_(
            Reminder.status == "pending",
            and_(Reminder.status == "claimed", Reminder.claimed_at < now - CLAIM_TIMEOUT),
        ))

    async def _due_ids(self, now: datetime) -> list[int]:
        q = select(Reminder.id).where(self.due_clause(now)).order_by(Reminder.due_at, Reminder.id).limit(BATCH)
        async with self.core.db.session() as s:
            return list((await s.execute(q)).scalars())

    async def _defer(self, ids: list[int], now: datetime) -> int:
        """Outside working time: move due rows to the next working slot (stale claims too)."""
        slot = self.hours.next_slot(now)
        async with self.core.db.session() as s:
            res = await s.execute(update(Reminder).where(Reminder.id.in_(ids), self.due_clause(now))
                                  .values(due_at=slot, status="pending", claimed_by="", claimed_at=None)
                                  .execution_options(synchronize_session=False))
        return res.rowcount or 0

    async def _claim(self, ids: list[int], now: datetime) -> list[Reminder]:
        """UPDATE … SET status='claimed' WHERE id IN … AND still claimable: the winner's token sticks."""
        token = f"{self.worker_id}:{uuid.uuid4().hex[:8]}"
        async with self.core.db.session() as s:
            await s.execute(update(Reminder).where(Reminder.id.in_(ids), self.due_clause(now))
                            .values(status="claimed", claimed_by=token, claimed_at=now)
                            .execution_options(synchronize_session=False))
        async with self.core.db.session() as s:
            q = (select(Reminder).where(Reminder.claimed_by == token, Reminder.status == "claimed")
                 .order_by(Reminder.due_at, Reminder.id))
            return list((await s.execute(q)).scalars())

    async def _deliver(self, row: Reminder, now: datetime) -> Outcome | None:
        """Render and enqueue in the transaction that marks the row done; None when it failed."""
        try:
            async with self.core.db.session() as s:
                deliver = KINDS.get(row.kind)
                outcome = (await deliver(self.kind_context, s, row, now) if deliver
                           else Outcome("skipped", f"unknown kind {row.kind}"))
                res = await s.execute(
                    update(Reminder).where(Reminder.id == row.id, Reminder.status == "claimed",
                                           Reminder.claimed_by == row.claimed_by)
                    .values(status=outcome.status, sent_at=now, note=outcome.note[:2000])
                    .execution_options(synchronize_session=False))
                if res.rowcount != 1:
                    raise _LostClaim(row.key)
        except _LostClaim:
            log.warning("reminder %s was taken over by another process; not sent here", row.key)
            return None
        except Exception as exc:  # the claim expires and another tick retries it
            log.exception("reminder %s failed", row.key)
            async with self.core.db.session() as s:
                await s.execute(update(Reminder).where(Reminder.id == row.id, Reminder.claimed_by == row.claimed_by)
                                .values(note=f"{type(exc).__name__}: {exc}"[:2000]))
            return None
        self.core.after_commit()
        return outcome
