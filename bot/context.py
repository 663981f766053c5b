"""What a handler gets: the update, the person, the transaction, and ways to answer."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from bot import outbox
from bot.events import Event
from bot.outbound import OutboundMessage
from models import Conversation, Person

if TYPE_CHECKING:
    from bot.core import BotCore


@dataclass
class Context:
    core: "BotCore"
    session: AsyncSession
    event: Event
    person: Person
    conversation: Conversation | None = None
    args: str = ""  # what followed a command word, e.g. 1.1 in 进度 1.1

    @property
    def userid(self) -> str:
        return self.person.userid

    @property
    def text(self) -> str:
        return self.event.text.strip()

    @property
    def render(self):
        return self.core.renderer

    async def reply(self, template: str, **values) -> None:
        await self.send_to([self.userid], self.render.text_message(template, person=self.person, **values))

    async def reply_text(self, text: str) -> None:
        """For text already rendered from a template (e.g. a form macro)."""
        await self.send_to([self.userid], OutboundMessage(kind="text", text=text))

    async def reply_card(self, template: str, **values) -> None:
        await self.send_to([self.userid], self.render.card_message(template, person=self.person, **values))

    async def send_to(self, userids: Iterable[str], message: OutboundMessage) -> list[str]:
        """The outbox routes each person to the platform they use (a reply: the one they just wrote from).
        Returns whom it was queued for: what a "已发给 N 人" counts."""
        return await outbox.enqueue_later(self.session, userids, message)

    # --- conversation state, written in the same transaction as everything else ---
    async def begin(self, handler: str, state: str, data: dict | None = None) -> None:
        conv = await self.session.get(Conversation, self.userid)
        if conv is None:
            conv = Conversation(userid=self.userid, handler=handler, state=state, data=data or {})
            self.session.add(conv)
        else:
            conv.handler, conv.state, conv.data = handler, state, dict(data or {})
        self.conversation = conv

    async def set_state(self, state: str, data: dict | None = None) -> None:
        assert self.conversation is not None
        self.conversation.state = state
        if data is not None:
            self.conversation.data = dict(data)  # a new dict so the JSON column sees the change

    async def end(self) -> None:
        conv = await self.session.get(Conversation, self.userid)
        if conv is not None:
            await self.session.delete(conv)
            await self.session.flush()  # gone now: a ``begin`` in this transaction must not get it back
        self.conversation = None
