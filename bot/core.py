"""The bot's runtime: accepts updates, runs the middlewares and the router,
and owns the workers that process updates and drain the outbox."""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Callable

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import inbound, outbox
from bot.config import Settings
from bot.context import Context
from bot.db import Database
from bot.events import Event
from bot.heartbeat import Heartbeat
from bot.outbox import OutboxDrainer
from bot.platforms.base import PlatformSender
from bot.reminders.service import ReminderService
from bot.render import Renderer
from workflow.registry import default_specs
from workflow.spec import WorkflowSpec
from models import Conversation, Inbound, Person, utcnow

log = logging.getLogger(__name__)

CANCEL_WORDS = {"取消", "退出"}


class BotCore:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        *,
        default_platform: str,
        senders: dict[str, PlatformSender],
        specs: dict[str, WorkflowSpec] | None = None,
        renderer: Renderer | None = None,
        clock: Callable[[], datetime] = utcnow,
    ):
        from bot.engine import Engine
        from handlers import load_router

        self.settings = settings
        self.db = db
        self.default_platform = default_platform
        self.senders = senders
        self.specs = specs if specs is not None else default_specs()
        self.renderer = renderer or Renderer()
        self.clock = clock
        self.router = load_router()
        self.engine = Engine(self)
        self.heartbeat = Heartbeat(db, clock)  # names this process in claims and leases
        self.worker = inbound.InboundWorker(self, clock=clock, heartbeat=self.heartbeat)
        self.drainer = OutboxDrainer(db, senders, clock=clock, heartbeat=self.heartbeat)
        self.reminders = ReminderService(self)

    async def start(self) -> None:
        await self.heartbeat.beat()
        self.heartbeat.start()
        self.worker.start()
        self.drainer.start()
        self.reminders.start()

    async def stop(self) -> None:
        await self.reminders.stop()  # a tick mid-transaction may commit first
        await self.worker.stop()
        await self.drainer.stop()
        await self.heartbeat.stop()

    async def accept(self, event: Event) -> bool:
        """Store an update for processing; False for a duplicate delivery."""
        stored = await inbound.store(self, event)
        if stored:
            self.worker.poke()
        return stored

    def after_commit(self) -> None:
        self.drainer.poke()

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

    async def handle(self, session: AsyncSession, event: Event) -> None:
        """Middlewares, then the router, all inside the caller's transaction."""
        person = await session.get(Person, event.userid)
        if person is None:
            await self._refuse_stranger(session, event)
            return
        ctx = Context(core=self, session=session, event=event, person=person)
        ctx.conversation = await session.get(Conversation, person.userid)
        if event.kind == "text" and ctx.text in CANCEL_WORDS:
            had = ctx.conversation is not None
            await ctx.end()
            await ctx.reply("cancelled.j2", had_conversation=had)
            return
        await self.router.dispatch(ctx)

    async def _refuse_stranger(self, session: AsyncSession, event: Event) -> None:
        """One polite refusal per unknown userid, then silence."""
        marker = await session.get(Conversation, event.userid)
        if marker is not None:
            return
        session.add(Conversation(userid=event.userid, handler="__stranger__", state="refused", data={}))
        await outbox.enqueue(session, event.platform, [event.userid], self.renderer.text_message("errors/stranger.j2"))

    async def report_failure(self, session: AsyncSession, event: Event) -> None:
        if await session.get(Person, event.userid) is None:
            return
        await outbox.enqueue(session, event.platform, [event.userid], self.renderer.text_message("errors/internal.j2"))
