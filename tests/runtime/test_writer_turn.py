"""SQLite's writer turn: arriving callbacks go before the workers' queued transactions, and a waiter
cancelled just as the turn reaches it passes the turn on instead of keeping it forever. Across
processes on one file the turn is an flock beside it, held from a transaction's first write to its end."""
from __future__ import annotations

import asyncio
import fcntl
import os
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.db import Database, WriterTurn

ROOT = Path(__file__).resolve().parents[2]


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


# -- across processes: the flock beside the database file -------------------------------------------

HOLDER = """
import asyncio, sys
from sqlalchemy import text
from bot.db import Database

async def main():
    db = Database(sys.argv[1])
    async with db.session() as s:
        await s.execute(text("INSERT INTO t VALUES ('other process')"))
        print("holding", flush=True)
        await asyncio.to_thread(sys.stdin.readline)  # commit when told
    print("committed", flush=True)
    await db.dispose()

asyncio.run(main())
"""


def lock_is_free(path: Path) -> bool:
    """Probe the writer lock from a descriptor of our own, as another process would."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


async def make_table(db: Database) -> None:
    async with db.engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (name TEXT)"))


async def test_the_writer_lock_is_held_from_the_first_write_until_the_transaction_ends(tmp_path):
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/lock.db")
    lock = tmp_path / "lock.db-writer.lock"
    try:
        await make_table(db)
        async with db.session() as s:
            await s.execute(text("SELECT count(*) FROM t"))
            assert lock_is_free(lock)  # reading takes nothing
            await s.execute(text("INSERT INTO t VALUES ('a')"))
            assert not lock_is_free(lock)
        assert lock_is_free(lock)  # committed
        with pytest.raises(RuntimeError):
            async with db.session() as s:
                await s.execute(text("INSERT INTO t VALUES ('b')"))
                raise RuntimeError("a handler failed")
        assert lock_is_free(lock)  # rolled back
    finally:
        await db.dispose()


async def test_a_second_process_waits_for_the_first_ones_write_then_goes_on(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path}/two.db"
    db = Database(url)
    holder = None
    try:
        await make_table(db)
        holder = await asyncio.create_subprocess_exec(
            sys.executable, "-c", HOLDER, url, cwd=ROOT,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        assert (await asyncio.wait_for(holder.stdout.readline(), 60)).strip() == b"holding"

        async def write() -> None:
            async with db.session() as s:
                await s.execute(text("INSERT INTO t VALUES ('this process')"))

        mine = asyncio.create_task(write())
        await asyncio.sleep(0.3)
        assert not mine.done()  # waiting for the other process's turn, not failing
        holder.stdin.write(b"go\n")
        await holder.stdin.drain()
        assert (await asyncio.wait_for(holder.stdout.readline(), 30)).strip() == b"committed"
        await asyncio.wait_for(mine, 30)
        async with db.session() as s:
            names = (await s.execute(text("SELECT name FROM t ORDER BY rowid"))).scalars().all()
        assert names == ["other process", "this process"]
    finally:
        if holder and holder.returncode is None:
            holder.kill()
            await holder.wait()
        await db.dispose()


async def test_a_writer_cancelled_while_another_process_holds_the_lock_leaks_nothing(tmp_path):
    """Two Database objects on one file hold two descriptors, as two processes do. The cancelled
    waiter's thread still gets the lock in the end; it must let it go, and pass its turn on."""
    url = f"sqlite+aiosqlite:///{tmp_path}/cancel.db"
    first, second = Database(url), Database(url)
    try:
        await make_table(first)

        async def write(db: Database, name: str) -> None:
            async with db.session() as s:
                await s.execute(text("INSERT INTO t VALUES (:n)"), {"n": name})

        async with first.session() as s:
            await s.execute(text("INSERT INTO t VALUES ('first')"))
            doomed = asyncio.create_task(write(second, "cancelled"))
            await asyncio.sleep(0.2)
            doomed.cancel()
            with pytest.raises(asyncio.CancelledError):
                await doomed
        await asyncio.wait_for(write(second, "after"), 10)  # neither the lock nor the turn was kept
        await asyncio.wait_for(write(first, "first again"), 10)
        async with first.session() as s:
            names = (await s.execute(text("SELECT name FROM t ORDER BY rowid"))).scalars().all()
        assert names == ["first", "after", "first again"]
    finally:
        await first.dispose()
        await second.dispose()


async def test_a_transaction_on_the_writer_thread_keeps_the_turn_until_it_is_done_even_if_cancelled(tmp_path):
    """The callbacks' group commit runs whole on the writer thread. Cancelled while the thread writes,
    its turn passes on only when the thread is done: a session's write waits, then goes on."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/thread.db")
    started = threading.Event()
    try:
        await make_table(db)

        def slow(conn) -> None:
            conn.execute(text("INSERT INTO t VALUES ('thread')"))
            started.set()
            time.sleep(0.5)

        doomed = asyncio.create_task(db.write_on_thread(slow, urgent=True))
        await asyncio.to_thread(started.wait, 10)
        doomed.cancel()
        with pytest.raises(asyncio.CancelledError):
            await doomed
        async def write() -> None:
            async with db.session() as s:
                await s.execute(text("INSERT INTO t VALUES ('session')"))

        await asyncio.wait_for(write(), 10)  # the turn was passed on, not kept
        async with db.session() as s:
            names = (await s.execute(text("SELECT name FROM t ORDER BY rowid"))).scalars().all()
        assert names == ["thread", "session"]
        assert await db.write_on_thread(lambda conn: conn.execute(text("SELECT count(*) FROM t")).scalar()) == 2
    finally:
        await db.dispose()
