"""The database: one async engine, WAL on SQLite, Alembic migrations on start."""
from __future__ import annotations

import asyncio
from collections import deque
from contextlib import asynccontextmanager
from pathlib import Path
from typing import AsyncIterator

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

MIGRATIONS = Path(__file__).resolve().parent.parent / "models" / "migrations"


def _prepare_sqlite_path(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


class WriterTurn:
    """SQLite's one writer, taken in turn by this process's transactions.

    Waiting in SQLite's busy handler sleeps up to 100 ms at a time, so transactions queue here
    instead. Arriving callbacks (``urgent``) go before the workers' queued turns: a person's
    acknowledgement waits for at most the transaction in progress, not for the queue behind it.
    """

    def __init__(self) -> None:
        self._held = False
        self._urgent: deque[asyncio.Future[None]] = deque()
        self._normal: deque[asyncio.Future[None]] = deque()

    async def acquire(self, urgent: bool) -> None:
        if not self._held and not self._urgent and not self._normal:
            self._held = True
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        (self._urgent if urgent else self._normal).append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # handed the turn just as we were cancelled: pass it on
            else:
                (self._urgent if urgent else self._normal).remove(waiter)
            raise

    def release(self) -> None:
        for queue in (self._urgent, self._normal):
            while queue:
                waiter = queue.popleft()
                if not waiter.done():
                    waiter.set_result(None)  # the turn passes straight on: _held stays True
                    return
        self._held = False


class Database:
    def __init__(self, url: str):
        self.url = url
        _prepare_sqlite_path(url)
        self.is_sqlite = make_url(url).get_backend_name() == "sqlite"
        kwargs: dict = {}
        if self.is_sqlite:
            kwargs["connect_args"] = {"timeout": 30}
        else:
            kwargs.update(pool_size=10, max_overflow=10, pool_pre_ping=True)
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._sqlite_turn = WriterTurn() if self.is_sqlite else None

    @asynccontextmanager
    async def session(self, urgent: bool = False) -> AsyncIterator[AsyncSession]:
        """A session in one transaction: committed on success, rolled back on error.

        ``urgent``: on SQLite, go before the queued turns (callbacks waiting to be acknowledged).
        Never open one inside another in the same task: on SQLite that would wait on itself.
        """
        if self._sqlite_turn is None:
            async with self.sessions() as session:
                async with session.begin():
                    yield session
            return
        await self._sqlite_turn.acquire(urgent)
        try:
            async with self.sessions() as session:
                async with session.begin():
                    yield session
        finally:
            self._sqlite_turn.release()

    async def upgrade(self) -> None:
        async with self.engine.begin() as conn:
            await conn.run_sync(_run_upgrade)

    async def dispose(self) -> None:
        await self.engine.dispose()


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    # WAL + NORMAL: commits survive a process crash; only an OS crash may lose the last ones.
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def alembic_config(connection=None):
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def _run_upgrade(connection) -> None:
    command.upgrade(alembic_config(connection), "head")


def upgrade_sync(url: str) -> None:
    """``campusbot db upgrade``."""

    async def go() -> None:
        db = Database(url)
        try:
            await db.upgrade()
        finally:
            await db.dispose()

    asyncio.run(go())
