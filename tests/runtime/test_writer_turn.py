"""SQLite's writer turn: arriving callbacks go before the workers' queued transactions, and a waiter
cancelled just as the turn reaches it passes the turn on instead of keeping it forever."""
from __future__ import annotations

import asyncio

from sqlalchemy import text

from bot.db import Database, WriterTurn


async def test_an_urgent_turn_goes_before_queued_ones_but_after_the_one_in_progress():
    turn = WriterTurn()
    order: list[str] = []

    async def take(name: str, urgent: bool) -> None:
        await turn.acquire(urgent)
        order.append(name)
        await asyncio.sleep(0)
        turn.release()

    await turn.acquire(False)  # a batch in progress
    tasks = [asyncio.create_task(take(n, u)) for n, u in [("worker-1", False), ("worker-2", False),
                                                          ("callback", True)]]
    await asyncio.sleep(0)
    assert order == []
    turn.release()
    await asyncio.gather(*tasks)
    assert order == ["callback", "worker-1", "worker-2"]


async def test_a_waiter_cancelled_as_the_turn_reaches_it_passes_it_on():
    turn = WriterTurn()
    await turn.acquire(False)
    doomed = asyncio.create_task(turn.acquire(False))
    nxt = asyncio.create_task(turn.acquire(False))
    await asyncio.sleep(0)
    turn.release()  # handed to `doomed`, which is cancelled before it runs
    doomed.cancel()
    await asyncio.wait_for(nxt, 1)  # the turn reached the next waiter
    turn.release()
    await asyncio.wait_for(turn.acquire(True), 1)


async def test_urgent_sessions_on_sqlite_write_in_priority_order_and_reads_never_wait(tmp_path):
    """The turn is taken at a session's first write: queued writers go urgent first, while a session
    that only reads goes ahead even as another holds the turn."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/turn.db")
    seen: list[str] = []
    try:
        async with db.engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (name TEXT)"))

        async def write(name: str, urgent: bool) -> None:
            async with db.session(urgent=urgent) as s:
                await s.execute(text("INSERT INTO t VALUES (:n)"), {"n": name})
                seen.append(name)

        async def read() -> None:
            async with db.session() as s:
                await s.execute(text("SELECT count(*) FROM t"))
                seen.append("reader")

        async with db.session() as s:
            await s.execute(text("INSERT INTO t VALUES ('holder')"))  # the turn is ours from here
            tasks = [asyncio.create_task(write("batch", False)), asyncio.create_task(write("callback", True))]
            await asyncio.wait_for(read(), 5)  # no turn needed to read
            await asyncio.sleep(0.01)
            assert seen == ["reader"]
        await asyncio.gather(*tasks)
        assert seen == ["reader", "callback", "batch"]
    finally:
        await db.dispose()
