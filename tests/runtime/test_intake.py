"""Group commit on the way in: many updates per transaction, dedup exact within and across batches."""
from __future__ import annotations

import asyncio
from datetime import datetime, timezone

from sqlalchemy import func, select

from bot.db import Database
from bot.events import Event
from bot.accounts import stranger_key  # u0 has no account: stored under its stranger key
from bot.intake import InboundWriter
from models import Inbound


def text(userid: str, msg_id: int) -> Event:
    return Event(platform="wecom", kind="text", userid=userid, dedup_key=f"wecom:msg:{msg_id}", text="帮助",
                 created_at=datetime.now(timezone.utc))


async def test_many_callbacks_share_a_transaction_and_retries_are_recognised(db_url):
    db = Database(db_url)
    await db.upgrade()
    try:
        writer = InboundWriter(db, max_rows=64)
        first = [text(f"u{i % 7}", i) for i in range(150)]
        retried_in_batch = [text("u1", 3), text("u2", 40)]
        results = await asyncio.gather(*(writer.submit(e) for e in first + retried_in_batch))
        assert results[:150] == [True] * 150
        assert results[150:] == [False, False]
        assert writer.batches == 3  # 152 arrivals at once: 64 + 64 + 24 rows

        later = await asyncio.gather(writer.submit(text("u3", 10)), writer.submit(text("u3", 1000)))
        assert later == [False, True]
        async with db.session() as s:
            assert (await s.execute(select(func.count()).select_from(Inbound))).scalar_one() == 151
            order = (await s.execute(select(Inbound.dedup_key).where(Inbound.userid == stranger_key("wecom", "u0"))
                                     .order_by(Inbound.id))).scalars().all()
        assert order == [f"wecom:msg:{i}" for i in range(0, 150, 7)], "arrival order is kept per person"
    finally:
        await db.dispose()


async def test_a_failed_commit_fails_every_waiter_of_its_batch(sqlite_url):
    db = Database(sqlite_url)  # no tables: the insert fails
    try:
        writer = InboundWriter(db)
        results = await asyncio.gather(*(writer.submit(text("u1", i)) for i in range(5)), return_exceptions=True)
        assert all(isinstance(r, Exception) for r in results)
    finally:
        await db.dispose()
