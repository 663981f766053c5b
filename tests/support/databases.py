"""The tests' databases: PostgreSQL's one per pytest-xdist worker, and copies of a seeded template.

Under ``pytest -n`` each worker runs on its own database, ``<db>_gw0``, ``<db>_gw1``… (created on the
server when missing), so one worker never drops another's schema mid-test.

Migrating and seeding took most of each harness test's setup (on PostgreSQL seconds). They run once per
test process into a template, through the same code the fixtures ran (``Database.upgrade`` and
``seed_demo``); each test then gets a copy: a file copy on SQLite, ``CREATE DATABASE … TEMPLATE`` on
PostgreSQL (the test database's user must be allowed to create databases)."""
from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from pathlib import Path

import asyncpg
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bot.db import Database
from bot.seed import seed_demo

PG_SKIP = "PostgreSQL run skipped: set CAMPUSBOT_TEST_DATABASE_URL (e.g. postgresql+asyncpg://postgres@127.0.0.1/test)"


async def reset_postgres(url: str) -> None:
    """An empty public schema: what a test or benchmark on its own PostgreSQL database starts from."""
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


def per_worker(url: str) -> str:
    """``url`` itself, or under pytest-xdist the worker's own database on the same server."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not url or not worker:
        return url
    parsed = make_url(url)
    return parsed.set(database=f"{parsed.database}_{worker}").render_as_string(hide_password=False)


def ensure_database(url: str) -> None:
    """Create the PostgreSQL database at ``url`` when the server has none of that name (blocking; no loop runs)."""
    async def create() -> None:
        name = make_url(url).database
        conn = await asyncpg.connect(_maintenance_dsn(url))
        try:
            if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
                await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(create())
    finally:
        loop.close()


_templates: dict[str, str] = {}  # "sqlite" → the template file; a PostgreSQL URL → its template database


async def seeded(url: str) -> None:
    """Make the database at ``url`` (absent, empty or used) a fresh copy of the seeded template."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        target = Path(parsed.database)
        if "sqlite" not in _templates:
            _templates["sqlite"] = await _sqlite_template()
        target.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("-wal", "-shm"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(_templates["sqlite"], target)
        return
    name = parsed.database
    if url not in _templates:
        template = f"{name}_seeded"
        await _admin(url, f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)', f'CREATE DATABASE "{template}"')
        await _migrate_and_seed(parsed.set(database=template).render_as_string(hide_password=False))
        _templates[url] = template
    await _admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
                 f'CREATE DATABASE "{name}" TEMPLATE "{_templates[url]}"')


async def _sqlite_template() -> str:
    path = Path(tempfile.mkdtemp(prefix="campusbot-seeded-")) / "seeded.db"
    await _migrate_and_seed(f"sqlite+aiosqlite:///{path}")
    return str(path)


async def _migrate_and_seed(url: str) -> None:
    db = Database(url)
    try:
        await db.upgrade()
        async with db.session() as s:
            await seed_demo(s)
    finally:
        await db.dispose()  # the last connection closing folds SQLite's WAL into the file


async def _admin(url: str, *statements: str) -> None:
    """Run statements on the server's maintenance database (CREATE/DROP DATABASE cannot run in the test one)."""
    conn = await asyncpg.connect(_maintenance_dsn(url))
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


def _maintenance_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
