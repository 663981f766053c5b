"""The outbox's view of the local chat: a sent message is a row the browser polls.

Writes are keyed by the outbox row and recipient, so a batch resent after a
crash (the drainer cannot know how far the first try got) adds nothing twice.
"""
from __future__ import annotations

import logging
import uuid

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from bot.db import Database
from bot.outbound import OutboundMessage
from bot.platforms.base import PermanentSendError, SendResult
from bot.platforms.devchat.models import DevchatMessage

log = logging.getLogger(__name__)

MAX_BATCH = 1000
_IN_CHUNK = 400  # bound parameters per IN (...) — old SQLite allows 999


def out_ref(ref: str, userid: str) -> str:
    return f"out:{ref}:{userid}"


class DevchatSender:
    """``PlatformSender`` that stores messages for ``/chat/{userid}`` to show."""

    name = "devchat"
    max_batch = MAX_BATCH

    def __init__(self, db: Database) -> None:
        self._db = db

    async def send(self, userids: list[str], message: OutboundMessage, *, dedup: bool, ref: str = "") -> SendResult:
        users = list(dict.fromkeys(u for u in userids if u))
        if not users:
            return SendResult()
        if message.kind in ("card_update", "recall"):  # a recall greys the card's buttons to 已撤回
            await self._replace(users, message)
        elif message.kind in ("text", "markdown", "card"):
            # Without a ref there is nothing to deduplicate against: every call is new.
            await self._store(users, message, ref or f"adhoc-{uuid.uuid4().hex}")
            return SendResult(ref=message.card_id if message.kind == "card" else "")
        else:
            raise PermanentSendError(f"devchat cannot show a {message.kind!r} message")
        return SendResult()

    async def _store(self, users: list[str], message: OutboundMessage, ref: str) -> None:
        data = message.to_json()
        card_task_id = message.card_id if message.kind == "card" else ""
        refs = {u: out_ref(ref, u) for u in users}
        for attempt in (1, 2):
            try:
                async with self._db.session() as s:
                    existing: set[str] = set()
                    values = list(refs.values())
                    for i in range(0, len(values), _IN_CHUNK):
                        existing.update((await s.execute(
                            select(DevchatMessage.ref).where(DevchatMessage.ref.in_(values[i:i + _IN_CHUNK]))
                        )).scalars())
                    s.add_all(
                        DevchatMessage(userid=u, direction="out", ref=r, message=data, card_task_id=card_task_id)
                        for u, r in refs.items() if r not in existing
                    )
                return
            except IntegrityError:
                # Another drainer wrote some of the same rows meanwhile; the second pass skips them.
                if attempt == 2:
                    raise
                log.info("devchat: concurrent write for %s; retrying without duplicates", ref)

    async def _replace(self, users: list[str], message: OutboundMessage) -> None:
        if not message.reply_ref:  # devchat's reply reference is the clicked card's id
            raise PermanentSendError("card_update without reply_ref")
        async with self._db.session() as s:
            for i in range(0, len(users), _IN_CHUNK):
                await s.execute(
                    update(DevchatMessage)
                    .where(DevchatMessage.card_task_id == message.reply_ref,
                           DevchatMessage.direction == "out",
                           DevchatMessage.userid.in_(users[i:i + _IN_CHUNK]))
                    .values(replaced=message.replace_name)
                )
