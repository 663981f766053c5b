"""The runtime's :class:`workflow.notify.Notifier`: renders the engine's templates and
writes outbox rows in the engine's transaction.

This is the one place the engine's messages meet the outbox, so how a recipient
is reached (today the core's platform) changes here and nowhere in the engine.
"""
from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot import card_copies, outbox
from bot.links import signed_run_link, signed_task_link
from bot.outbound import OutboundMessage
from models import Run, Task

if TYPE_CHECKING:
    from bot.core import BotCore


class OutboxNotifier:
    def __init__(self, core: "BotCore"):
        self.core = core

    async def send(self, s: AsyncSession, userids: Collection[str], message: OutboundMessage) -> list[str]:
        """Queue a rendered message for these people (hooks use it for what they render themselves);
        returns whom the outbox rows reach, which is what any "已发给 N 位" counts."""
        if not userids:
            return []
        return await outbox.enqueue_later(s, list(userids), message)

    async def text(self, s: AsyncSession, userids: Collection[str], template: str,
                   values: Mapping[str, Any]) -> list[str]:
        return await self.send(s, userids, self.core.renderer.text_message(template, **values))

    async def card(self, s: AsyncSession, userids: Collection[str], template: str, values: Mapping[str, Any],
                   *, run: Run, task: Task | None = None) -> list[str]:
        """One card for all, unless the card carries a record link (it names its person): then one each."""
        users = list(userids)
        render = self.core.renderer.card_message
        shared = {**values, "upload_url": self.upload_url(task) if task else ""}

        subject = card_copies.subject_of_task(task.id) if task is not None else ""

        def personal(userid: str) -> OutboundMessage:
            message = render(template, **shared, record_url=self.record_url(run, userid))
            message.subject = subject
            return message

        if len(users) == 1:
            return await self.send(s, users, personal(users[0]))
        message = render(template, **shared, record_url="")
        message.subject = subject
        if users and personal(users[0]) != message:
            reached: list[str] = []
            for userid in users:
                reached += await self.send(s, [userid], personal(userid))
            return reached
        return await self.send(s, users, message)

    async def settle(self, s: AsyncSession, run: Run) -> None:
        await card_copies.settle_run(self.core, s, run)

    def upload_url(self, task: Task) -> str:
        return signed_task_link(self.core.settings, "upload", task.id, task.assignee)

    def record_url(self, run: Run, userid: str) -> str:
        return signed_run_link(self.core.settings, "record", run.id, userid)
