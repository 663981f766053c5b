"""SQLite's writer turn: arriving callbacks go before the workers' queued transactions, and a waiter
cancelled just as the turn reaches it passes the turn on instead of keeping it forever."""
from __future__ import annotations

import asyncio

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


async def test_urgent_sessions_on_sqlite_commit_in_priority_order(tmp_path):
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/turn.db")
    seen: list[str] = []
    try:
        async def work(name: str, urgent: bool) -> None:
            async with db.session(urgent=urgent):
                seen.append(name)

        async with db.session():
            tasks = [asyncio.create_task(work("batch", False)), asyncio.create_task(work("callback", True))]
            await asyncio.sleep(0.01)
            assert seen == []
        await asyncio.gather(*tasks)
        assert seen == ["callback", "batch"]
    finally:
        await db.dispose()
