"""The core's reminders: one APScheduler job is the clock, the ``reminders`` table is the memory.

Every minute the job plans the rows for the next weeks (idempotent by ``key``) and
sends what is due. Nothing is pickled into a job store, so a restart, a second
process or a changed spec never loses or repeats a reminder. The service owns the
job and the tick it is running, so shutdown can let a tick mid-transaction finish.
"""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import func, select

from bot.reminders.planner import ReminderPlanner
from bot.reminders.sender import ReminderSender, TickReport
from bot.reminders.working_time import WorkingTime, calendar_for
from models import Reminder, Task
from workflow.calendar import SchoolCalendar

if TYPE_CHECKING:
    from bot.core import BotCore

log = logging.getLogger(__name__)

TICK_SECONDS = 60
JOB_ID = "campusbot-reminders"
STOP_WAIT_SECONDS = 30  # how long shutdown lets a running tick finish


class ReminderService:
    """The planner and sender of one BotCore, the working time they share, the clock job and its tick.

    The 校历 is loaded on first use (``use_calendar`` swaps in another one).
    """

    def __init__(self, core: "BotCore"):
        self.core = core
        self.scheduler: AsyncIOScheduler | None = None
        self.running: asyncio.Task | None = None  # the tick in progress, if any
        self._hours: WorkingTime | None = None
        self._planner: ReminderPlanner | None = None
        self._sender: ReminderSender | None = None

    def use_calendar(self, cal: SchoolCalendar) -> None:
        """Plan and send on ``cal`` from now on (a fresh planner and sender)."""
        self._hours = WorkingTime.from_settings(self.core.settings, cal)
        self._planner = ReminderPlanner(self.core, self._hours)
        self._sender = ReminderSender(self.core, self._hours)

    def _ensure(self) -> None:
        if self._hours is None:
            self.use_calendar(calendar_for(self.core.settings))

    @property
    def hours(self) -> WorkingTime:
        self._ensure()
        return self._hours

    @property
    def calendar(self) -> SchoolCalendar:
        return self.hours.cal

    @property
    def planner(self) -> ReminderPlanner:
        self._ensure()
        return self._planner

    @property
    def sender(self) -> ReminderSender:
        self._ensure()
        return self._sender

    async def tick(self, now: datetime | None = None) -> TickReport:
        """Plan the coming weeks, then send what is due at ``now`` (default ``core.clock()``)."""
        now = now or self.core.clock()
        planner, sender = self.planner, self.sender
        async with self.core.db.session() as s:  # idle ticks: one transaction, one query
            newest, due = (await s.execute(select(
                select(func.max(Task.id)).scalar_subquery(),
                select(func.min(Reminder.id)).where(sender.due_clause(now)).scalar_subquery(),
            ))).one()
            planned, done = await planner.plan_in(s, now, newest or 0)
        done()
        report = TickReport(planned=planned)
        return await sender.send_due(now, report) if due is not None or planned else report

    async def _tick_job(self) -> None:
        self.running = asyncio.current_task()
        try:
            await self.tick()
        except Exception:  # the next tick tries again; nothing is lost, rows stay pending
            log.exception("reminder tick failed")
        finally:
            self.running = None

    def start(self, *, seconds: float = TICK_SECONDS) -> AsyncIOScheduler:
        """Start the one interval job that drives reminders; call from the running event loop.

        The job store is memory only: the job is just the clock, the reminders are rows.
        It fires at once on start, so what fell due while the bot was down goes out now.
        """
        tz = ZoneInfo(self.core.settings.timezone)
        self.scheduler = AsyncIOScheduler(timezone=tz)
        self.scheduler.add_job(self._tick_job, "interval", seconds=seconds, id=JOB_ID, max_instances=1,
                               coalesce=True, misfire_grace_time=int(seconds) or 1, next_run_time=datetime.now(tz))
        self.scheduler.start()
        return self.scheduler

    async def stop(self) -> None:
        """Stop the job; a tick mid-transaction may finish (up to STOP_WAIT_SECONDS)."""
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
            self.scheduler = None
        running = self.running
        if running is not None and not running.done():
            await asyncio.wait({running}, timeout=STOP_WAIT_SECONDS)
