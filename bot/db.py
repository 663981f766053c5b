"""The database: one async engine, WAL on SQLite, Alembic migrations on start."""
from __future__ import annotations

import asyncio
import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import AsyncIterator, Callable, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.util import await_only

try:
    import fcntl
except ImportError:  # not on POSIX: processes sharing a file fall back on SQLite's busy handler
    fcntl = None  # type: ignore[assignment]

MIGRATIONS = Path(__file__).resolve().parent.parent / "models" / "migrations"
T = TypeVar("T")


def _prepare_sqlite_path(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


class WriterTurn:
    """SQLite's one writer, taken in turn by this process's transactions.

    Waiting in SQLite's busy handler sleeps up to 100 ms at a time, so transactions queue here
    instead. A transaction takes the turn at its first write, not at its start (reads need none in
    WAL), and keeps it until it ends: a batch reading and handling its updates does not hold up the
    callbacks' writes. Arriving callbacks (``urgent``) go before the workers' queued turns: a
    person's acknowledgement waits for at most the write in progress, not for the queue behind it.
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


class FileWriterLock:
    """The writer turn across processes: an ``flock`` on a file beside the database.

    Several ``campusbot serve`` processes on one SQLite file would otherwise meet in SQLite's busy
    handler, which sleeps 1, 2, 5 … 100 ms between tries whatever the holder does. A waiter
    blocked in ``flock`` is woken by the kernel the moment the holder lets go. Taken only by the
    holder of the process's :class:`WriterTurn`, so one file descriptor serves the process."""

    def __init__(self, path: str) -> None:
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)

    async def acquire(self, then_free: Callable[[], None]) -> None:
        """Wait for the lock. Cancelled while waiting, the lock is let go once the kernel grants
        it, and only then ``then_free`` (the process's turn): a turn passed on sooner would share
        this descriptor's lock with the waiting thread."""
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        waiting = asyncio.ensure_future(asyncio.to_thread(fcntl.flock, self._fd, fcntl.LOCK_EX))

        def abandoned(done: asyncio.Future) -> None:
            if not done.cancelled() and done.exception() is None:
                self.release()
            then_free()

        try:
            await asyncio.shield(waiting)
        except asyncio.CancelledError:
            waiting.add_done_callback(abandoned)
            raise

    def acquire_blocking(self) -> None:
        """On the writer thread, whose turn it is: wait in the kernel."""
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def release(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        os.close(self._fd)


_READS = ("SELECT", "PRAGMA")


@dataclass
class _Turn:
    """One session's claim on the writer turn: taken lazily, released when the session ends."""
    urgent: bool
    held: bool = False


_current_turn: ContextVar[_Turn | None] = ContextVar("campusbot_writer_turn", default=None)


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
            event.listen(self.engine.sync_engine, "before_cursor_execute", self._take_turn_to_write)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._sqlite_turn = WriterTurn() if self.is_sqlite else None
        database = make_url(url).database
        self._file_lock = (FileWriterLock(database + "-writer.lock")
                           if self.is_sqlite and fcntl and database and database != ":memory:" else None)
        self._writer: tuple[Engine, ThreadPoolExecutor] | None = None  # made on first use (SQLite)

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
        turn = _Turn(urgent)
        token = _current_turn.set(turn)
        try:
            async with self.sessions() as session:
                async with session.begin():
                    yield session
        finally:
            _current_turn.reset(token)
            if turn.held:
                if self._file_lock:
                    self._file_lock.release()
                self._sqlite_turn.release()

    def session_wrote(self) -> bool:
        """Inside ``session()``: whether it has written yet (always True but on SQLite, where it is known)."""
        turn = _current_turn.get()
        return turn is None or turn.held

    def _take_turn_to_write(self, _conn, _cursor, statement: str, *_args) -> None:
        """Before a session's first write (SQLite): wait for the writer turn, inside SQLAlchemy's
        greenlet, so the driver's implicit BEGIN comes with the turn in hand."""
        turn = _current_turn.get()
        if turn is None or turn.held or statement.lstrip()[:6].upper() in _READS:
            return
        await_only(self._sqlite_turn.acquire(turn.urgent))
        if self._file_lock:
            try:
                await_only(self._file_lock.acquire(then_free=self._sqlite_turn.release))
            except asyncio.CancelledError:
                raise  # the turn is passed on once the abandoned wait ends
            except BaseException:
                self._sqlite_turn.release()
                raise
        turn.held = True

    async def write(self, work: Callable[[Connection], T], urgent: bool = False) -> T:
        """``work(connection)`` in a transaction of its own: plain statements, no ORM objects. On SQLite
        on the writer thread (``write_on_thread``), so the writer turn is held only while they run; on
        PostgreSQL in a session as usual."""
        if self._sqlite_turn is not None:
            return await self.write_on_thread(work, urgent)
        async with self.session(urgent) as s:
            return await s.run_sync(lambda session: work(session.connection()))

    async def write_on_thread(self, work: Callable[[Connection], T], urgent: bool = False) -> T:
        """SQLite: ``work(connection)`` in one transaction on this process's writer thread, in its
        writer turn. A transaction is then one hand-off to a thread, not one per statement: the
        callbacks' group commit had waited for the busy event loop between each of its statements."""
        assert self._sqlite_turn is not None, "SQLite only"
        if self._writer is None:
            engine = create_engine(make_url(self.url).set(drivername="sqlite"), connect_args={"timeout": 30})
            event.listen(engine, "connect", _sqlite_pragmas)
            self._writer = engine, ThreadPoolExecutor(1, thread_name_prefix="sqlite-writer")
        engine, thread = self._writer
        await self._sqlite_turn.acquire(urgent)
        done = asyncio.get_running_loop().run_in_executor(thread, self._write_now, engine, work)
        try:
            return await asyncio.shield(done)
        finally:
            if done.done():
                self._sqlite_turn.release()
            else:  # cancelled while the thread writes: the turn passes on once it is done
                done.add_done_callback(lambda _: self._sqlite_turn.release())

    def _write_now(self, engine: Engine, work: Callable[[Connection], T]) -> T:
        if self._file_lock:
            self._file_lock.acquire_blocking()
        try:
            with engine.begin() as conn:
                return work(conn)
        finally:
            if self._file_lock:
                self._file_lock.release()

    async def upgrade(self) -> None:
        async with self.engine.begin() as conn:
            await conn.run_sync(_run_upgrade)

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self._writer is not None:
            engine, thread = self._writer
            await asyncio.get_running_loop().run_in_executor(thread, engine.dispose)
            thread.shutdown(wait=True)
            self._writer = None
        if self._file_lock:
            self._file_lock.close()
            self._file_lock = None


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
