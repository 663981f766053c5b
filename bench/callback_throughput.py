"""Benchmark: encrypted WeCom callbacks in, replies out through the outbox.

Measures end-to-end throughput (updates accepted over HTTP, processed per user in
order, replies sent to a local fake WeCom API) and peak memory. Targets live here and
in the README, never in timed tests.

    .venv/bin/python -m bench.callback_throughput [--users 200] [--messages 5] [--broadcast 5000]
"""
from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGETS = {"updates_per_s": 60.0, "broadcast_recipients_per_s": 5000.0, "peak_rss_mb": 300.0}


async def main(users: int, messages: int, broadcast: int, db_url: str | None) -> dict:
    from aiohttp.test_utils import TestClient, TestServer

    from bot import outbox
    from bot.app import CORE, create_app
    from bot.config import Settings
    from bot.outbound import OutboundMessage
    from models import Person, PersonAccount
    from tests.support.fakewecom import FakeWeCom
    from tests.support.wecom_helpers import AES_KEY, AGENT_ID, CORP_ID, TOKEN, signed_post, text_xml

    tmp = Path(tempfile.mkdtemp(prefix="campusbot-bench-"))
    fake = FakeWeCom(corp_id=CORP_ID, secret="s")
    await fake.start()
    settings = Settings(database_url=db_url or f"sqlite+aiosqlite:///{tmp}/bench.db", data_dir=tmp,
                        wecom_corp_id=CORP_ID, wecom_agent_id=AGENT_ID, wecom_secret="s", wecom_token=TOKEN,
                        wecom_aes_key=AES_KEY, wecom_api_base=fake.base_url, wecom_retry_base=0.01,
                        secret_key="bench-secret-key-0123456789")
    app = create_app(settings, "serve", start_workers=False)
    client = TestClient(TestServer(app))
    await client.start_server()
    core = app[CORE]
    ids = [f"u{i:05d}" for i in range(max(users, broadcast))]
    async with core.db.session() as s:
        s.add_all(Person(userid=u, name=f"教师{i}", department=f"系部{i % 3}", roles_text="任课教师")
                  for i, u in enumerate(ids))
        await s.flush()
        s.add_all(PersonAccount(platform="wecom", account_id=u, userid=u) for u in ids)  # they are on WeCom

    bodies = [signed_post(text_xml(ids[u], "帮助", 1_000_000 + u * messages + m))
              for m in range(messages) for u in range(users)]
    t0 = time.perf_counter()
    for query, body in bodies:
        resp = await client.post("/wecom/callback", params=query, data=body)
        assert resp.status == 200
    t_accept = time.perf_counter() - t0
    await core.settle()
    t_all = time.perf_counter() - t0
    replies = len(fake.deliveries)

    async with core.db.session() as s:
        await outbox.enqueue(s, ids[:broadcast], OutboundMessage(kind="text", text="期末考试安排已发布"))
    t1 = time.perf_counter()
    await core.drainer.drain_until_idle()
    t_broadcast = time.perf_counter() - t1

    await client.close()
    await fake.close()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    n = users * messages
    return {
        "updates": n, "accept_s": round(t_accept, 2), "end_to_end_s": round(t_all, 2),
        "updates_per_s": round(n / t_all, 1), "replies": replies,
        "broadcast_recipients": broadcast, "broadcast_s": round(t_broadcast, 2),
        "broadcast_recipients_per_s": round(broadcast / t_broadcast, 1) if t_broadcast else 0,
        "peak_rss_mb": round(rss_mb, 1),
    }


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--users", type=int, default=200)
    p.add_argument("--messages", type=int, default=5)
    p.add_argument("--broadcast", type=int, default=5000)
    p.add_argument("--db", default=None, help="database URL (default: a temporary SQLite file)")
    a = p.parse_args()
    result = asyncio.run(main(a.users, a.messages, a.broadcast, a.db))
    for k, v in result.items():
        print(f"{k:28} {v}")
    ok = (result["updates_per_s"] >= TARGETS["updates_per_s"]
          and result["broadcast_recipients_per_s"] >= TARGETS["broadcast_recipients_per_s"]
          and result["peak_rss_mb"] <= TARGETS["peak_rss_mb"])
    print("targets:", TARGETS, "→", "met" if ok else "NOT met")
    sys.exit(0 if ok else 1)
