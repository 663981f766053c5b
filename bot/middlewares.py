"""The runtime's middlewares, one signature each: ``async def mw(handler, event, data)``.

They run inside the caller's transaction, before any router sees the update;
the composition root adds them to the dispatcher in this order:

1. :func:`refuse_strangers` — only people in the directory get further (``data["person"]``);
2. :func:`load_conversation` — the FSM: the person's open conversation row (``data["conversation"]``);
3. :func:`cancel_conversation` — 取消/退出 leaves any conversation, whatever state it is in.
"""
from __future__ import annotations

from bot import outbox
from bot.events import Event
from bot.router import Next, context_of
from models import Conversation, Person

CANCEL_WORDS = {"取消", "退出"}
STRANGER = "__stranger__"  # the conversation row that remembers a stranger was answered once


async def refuse_strangers(handler: Next, event: Event, data: dict) -> None:
    """One polite refusal per unknown userid (or one who left: inactive), then silence."""
    session = data["session"]
    person = await session.get(Person, event.userid)
    if person is not None and person.active:
        data["person"] = person
        await handler(event, data)
        return
    kept = await session.get(Conversation, event.userid)
    if kept is not None and kept.handler == STRANGER:
        return
    if kept is not None:  # a form left open by someone who has since left
        await session.delete(kept)
        await session.flush()
    session.add(Conversation(userid=event.userid, handler=STRANGER, state="refused", data={}))
    # Nobody to route by: the answer goes straight back to the account that wrote.
    await outbox.enqueue_to_account(session, event.platform, event.account_id or event.userid, event.userid,
                                    data["core"].renderer.text_message("errors/stranger.j2"))


async def load_conversation(handler: Next, event: Event, data: dict) -> None:
    """The conversation state lives in a row, so a restart mid-form resumes at the same question.

    A batch that read its people's conversations beforehand says when there is none (a read saved)."""
    conversation = None if data.get("no_conversation") else await data["session"].get(
        Conversation, data["person"].userid)
    if conversation is not None and conversation.handler == STRANGER:  # refused before the directory had them
        await data["session"].delete(conversation)
        await data["session"].flush()  # gone now: a handler that begins a conversation makes a new one
        conversation = None
    data["conversation"] = conversation
    await handler(event, data)


async def cancel_conversation(handler: Next, event: Event, data: dict) -> None:
    if event.kind != "text" or event.text.strip() not in CANCEL_WORDS:
        await handler(event, data)
        return
    ctx = context_of(event, data)
    had = ctx.conversation is not None
    await ctx.end()
    await ctx.reply("cancelled.j2", had_conversation=had)
