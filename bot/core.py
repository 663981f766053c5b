"""The bot's runtime: accepts updates, feeds them to the dispatcher (middlewares,
then routers) it was given by the composition root, and owns the workers that
process updates and drain the outbox."""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Callable

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import card_copies, inbound, outbox
from bot.config import Settings
from bot.db import Database
from bot.drainer import OutboxDrainer
from bot.engine import BotEngine
from bot.events import Event
from bot.heartbeat import Heartbeat
from bot.intake import InboundWriter
from bot.platforms.base import Platform, PlatformSender
from bot.reminders.service import ReminderService
from bot.render import Renderer
from bot.router import Dispatcher
from workflow.hooks import HookRegistry
from workflow.registry import default_specs
from workflow.spec import WorkflowSpec
from models import Inbound, Person, utcnow

log = logging.getLogger(__name__)


class BotCore:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        *,
        senders: dict[str, PlatformSender],
        specs: dict[str, WorkflowSpec] | None = None,
        renderer: Renderer | None = None,
        clock: Callable[[], datetime] = utcnow,
        dispatcher: Dispatcher | None = None,
        hooks: HookRegistry | None = None,
    ):
        self.settings = settings
        self.db = db
        self.senders = senders
        # The mounted platforms (bot/app.py fills it): pages ask them who a visitor is.
        self.platforms: list[Platform] = []
        self.specs = specs if specs is not None else default_specs()
        self.renderer = renderer or Renderer()
        self.clock = clock
        # Built by bot/composition.py; a core without one (a second process that only ticks) routes nothing.
        self.dispatcher = dispatcher if dispatcher is not None else Dispatcher()
        # Step hooks come from the composition root too; a core without them runs bare steps.
        self.engine = BotEngine(self, hooks)
        self.heartbeat = Heartbeat(db, clock)  # names this process in claims and leases
        self.intake = InboundWriter(db, clock=lambda: self.clock())  # tests move the core clock  # group commit of arriving updates
        self.worker = inbound.InboundWorker(self, clock=clock, heartbeat=self.heartbeat)
        self.drainer = OutboxDrainer(db, senders, clock=clock, heartbeat=self.heartbeat,
                                     person_per_minute=settings.outbox_person_per_minute,
                                     app_calls_per_minute=settings.outbox_app_calls_per_minute)
        self.drainer.after_cards = self._settle_late
        self.reminders = ReminderService(self)
        # Called after each commit here that leaves work behind: the worker processes' wake-up
        # (bot.workers), when this process serves callbacks and they do the work.
        self.nudges: list[Callable[[], None]] = []

    async def start(self, *, work: bool = True, clock: bool = True) -> None:
        """``work``: process updates and send here; ``clock``: run the reminders' clock here."""
        await self.heartbeat.beat()
        self.heartbeat.start()
        if work:
            self.worker.start()
            self.drainer.start()
        if clock:
            self.reminders.start()

    async def stop(self) -> None:
        await self.reminders.stop()  # a tick mid-transaction may commit first
        await self.worker.stop()
        await self.drainer.stop()
        await self.heartbeat.stop()

    async def _settle_late(self, subjects: list[str]) -> None:
        """A card delivered after what it is about was decided is updated at once."""
        async with self.db.session() as s:
            await card_copies.settle_subjects(self, s, subjects)
        self.drainer.poke()

    async def accept(self, event: Event) -> bool:
        """Store an update for processing; False for a duplicate delivery."""
        stored = await self.intake.submit(event)
        if stored:
            self.worker.poke()
            self._nudge()
        return stored

    def after_commit(self) -> None:
        self.drainer.poke()
        self._nudge()

    def wake(self) -> None:
        """Look for work now (a nudge from the serving process)."""
        self.worker.poke()
        self.drainer.poke()

    def _nudge(self) -> None:
        for nudge in self.nudges:
            nudge()

    async def settle(self) -> None:
        """Tests and scripts: process every pending update and send every due message."""
        for _ in range(50):
            await self.worker.run_until_idle()
            await self.drainer.drain_until_idle()
            if not self.worker.active:
                async with self.db.session() as s:
                    pending = (await s.execute(
                        select(func.count()).select_from(Inbound).where(Inbound.status == "pending")
                    )).scalar_one()
                if not pending:
                    return

    async def handle(self, session: AsyncSession, event: Event, **known: object) -> None:
        """Middlewares, then the routers, all inside the caller's transaction.

        ``known``: what the caller already read for the middlewares (``no_conversation``)."""
        await self.dispatcher.feed(event, {"core": self, "session": session, **known})

    async def report_failure(self, session: AsyncSession, userid: str) -> None:
        """An update given up on: its person is told (a stranger is not); needs nothing of the update
        itself, which may be what could not be read."""
        if await session.get(Person, userid) is None:
            return
        await outbox.enqueue(session, [userid], self.renderer.text_message("errors/internal.j2"))
