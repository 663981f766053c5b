"""Where the milliseconds per message go: the path cut into its three phases, one at a time.

In one process (the app on a test server, the fake WeCom API beside it), ``--messages`` encrypted
帮助 callbacks from ``--users`` people are posted 64 at a time with the workers stopped (accept);
then the inbound worker processes them all (process); then the outbox drainer sends every reply
(send). For each phase: messages per second, milliseconds per message, and SQL statements and
transactions per message (counted at the engine, so they do not depend on the machine's load).

    .venv/bin/python -m bench.phases [--messages 1000] [--users 200] [--db URL]

It prints figures only; it asserts nothing. Run it on an older commit to compare.
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import event

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.app import CORE, create_app  # noqa: E402
from bot.config import Settings  # noqa: E402
from models import Person, PersonAccount  # noqa: E402
from tests.support.fakewecom import FakeWeCom  # noqa: E402
from tests.support.wecom_helpers import AES_KEY, AGENT_ID, CORP_ID, TOKEN, signed_post, text_xml  # noqa: E402

CONCURRENCY = 64


class Counter:
    """Statements and commits seen by one engine."""

    def __init__(self, engine) -> None:
        self.statements = 0
        self.commits = 0
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "commit", self._commit)

    def _statement(self, *_args) -> None:
        self.statements += 1

    def _commit(self, *_args) -> None:
        self.commits += 1

    def snapshot(self) -> tuple[int, int]:
        return self.statements, self.commits


async def main(messages: int, users: int, db_url: str | None) -> list[tuple[str, float, float, float]]:
    tmp = Path(tempfile.mkdtemp(prefix="campusbot-phases-"))
    if db_url:
        from tests.reliability.support import reset_postgres
        await reset_postgres(db_url)
    fake = FakeWeCom(corp_id=CORP_ID, secret="s")
    await fake.start()
    settings = Settings(database_url=db_url or f"sqlite+aiosqlite:///{tmp}/phases.db", data_dir=tmp,
                        wecom_corp_id=CORP_ID, wecom_agent_id=AGENT_ID, wecom_secret="s", wecom_token=TOKEN,
                        wecom_aes_key=AES_KEY, wecom_api_base=fake.base_url, wecom_retry_base=0.01,
                        secret_key="bench-secret-key-0123456789")
    app = create_app(settings, "serve", start_workers=False)
    client = TestClient(TestServer(app))
    await client.start_server()
    core = app[CORE]
    ids = [f"u{i:05d}" for i in range(users)]
    async with core.db.session() as s:
        s.add_all(Person(userid=u, name=f"教师{i}", department="机电工程系", roles_text="任课教师")
                  for i, u in enumerate(ids))
        await s.flush()
        s.add_all(PersonAccount(platform="wecom", account_id=u, userid=u) for u in ids)
    bodies = [signed_post(text_xml(ids[i % users], "帮助", 3_000_000 + i)) for i in range(messages)]
    counter = Counter(core.db.engine.sync_engine)
    lanes = asyncio.Semaphore(CONCURRENCY)

    async def post(query: dict, body: bytes) -> None:
        async with lanes:
            resp = await client.post("/wecom/callback", params=query, data=body)
            assert resp.status == 200, resp.status

    async def accept() -> None:
        await asyncio.gather(*(post(q, b) for q, b in bodies))

    rows = []
    try:
        for name, phase in (("accept", accept), ("process", core.worker.run_until_idle),
                            ("send", core.drainer.drain_until_idle)):
            statements, commits = counter.snapshot()
            started = time.perf_counter()
            await phase()
            seconds = time.perf_counter() - started
            statements2, commits2 = counter.snapshot()
            rows.append((name, seconds, (statements2 - statements) / messages, (commits2 - commits) / messages))
        if len(fake.deliveries) != messages:
            print(f"(replies seen: {len(fake.deliveries)} of {messages})")
    finally:
        await client.close()
        await fake.close()
    return rows


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--messages", type=int, default=1000)
    p.add_argument("--users", type=int, default=200)
    p.add_argument("--db", default=None, help="database URL (default: a temporary SQLite file)")
    a = p.parse_args()
    result = asyncio.run(main(a.messages, a.users, a.db))
    print(f"{'phase':8} {'msg/s':>8} {'ms/msg':>8} {'SQL/msg':>8} {'commits/msg':>12}")
    for name, seconds, statements, commits in result:
        print(f"{name:8} {a.messages / seconds:8.0f} {1000 * seconds / a.messages:8.2f} "
              f"{statements:8.2f} {commits:12.3f}")
