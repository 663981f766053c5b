"""The database a real ``campusbot serve`` of these tests runs on: a fresh SQLite file, and PostgreSQL
(reset) when the suite has one."""
from __future__ import annotations

import pytest

from tests.reliability.support import PG_SKIP, PG_URL, reset_postgres


@pytest.fixture(params=["sqlite", "postgresql"])
async def database(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/serve.db"
    if not PG_URL:
        pytest.skip(PG_SKIP)
    await reset_postgres(PG_URL)
    return PG_URL
