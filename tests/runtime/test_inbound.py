"""Updates are processed one at a time per user, in order, even with two processes
on one database, and concurrently across users; retries have one effect across restarts."""
from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import event, func, select
from sqlalchemy.engine import Engine

from bot.app import CORE, create_app
from bot.heartbeat import STALE_AFTER
from bot.inbound import InboundWorker
from models import Inbound
from tests.support.harness import WeComHarness
from tests.support.wecom_helpers import text_xml


async def test_two_processes_keep_each_users_order(wecom, wecom_settings, aiohttp_client):
    w = wecom
    app2 = create_app(wecom_settings, "serve", start_workers=False, clock=w.core.clock)
    client2 = await aiohttp_client(app2)
    core2 = app2[CORE]
    answers = ["调课", "电工基础", "计网2401", "12月3日 第3-4节", "实训楼A301", "12月4日 第1-2节", "不变", "参加比赛"]
    answers2 = ["停课", "机械制图", "机电2401", "12月4日 第1-2节", "教学楼201", "外出培训"]
    # Arrive all at once, before anything is processed, alternating between the two servers.
    for i, (a, b) in enumerate(zip(answers, answers2 + [""] * 2)):
        await w.post(text_xml("sunlt", a, 9_000_000 + i), settle=False)
        if b:
            q = WeComHarness(client2, core2, w.fake)
            await q.post(text_xml("hezq", b, 9_100_000 + i), settle=False)
    await asyncio.gather(w.core.worker.run_until_idle(), core2.worker.run_until_idle())
    await w.core.drainer.drain_until_idle()
    summary = w.last_text("sunlt")
    assert "请核对调停课申请" in summary and "调整后时间：12月4日（周五）第1-2节（第13教学周）" in summary
    assert "请核对调停课申请" in w.last_text("hezq") and "机械制图" in w.last_text("hezq")
    async with w.core.db.session() as s:
        counts = dict((await s.execute(select(Inbound.status, func.count()).group_by(Inbound.status))).all())
    assert counts == {"done": len(answers) + len(answers2)}


async def test_retry_after_restart_has_no_effect(wecom, wecom_settings, aiohttp_client):
    w = wecom
    await w.say("sunlt", "调课", msg_id=4242)
    n = len(w.texts("sunlt"))
    app2 = create_app(wecom_settings, "serve", start_workers=False, clock=w.core.clock)
    client2 = await aiohttp_client(app2)
    w2 = WeComHarness(client2, app2[CORE], w.fake)
    await w2.say("sunlt", "调课", msg_id=4242)
    assert len(w.texts("sunlt")) == n


async def test_enter_agent_greets(wecom):
    await wecom.enter("linms")
    assert "林美深" in wecom.last_text("linms")


async def test_unknown_text_suggests_commands(wecom):
    await wecom.say("linms", "今天天气怎么样")
    text = wecom.last_text("linms")
    assert "帮助" in text and "待办" in text


async def test_pending_updates_survive_a_crash(wecom, wecom_settings, aiohttp_client):
    """Acknowledged but not yet processed when the process died: processed after restart."""
    w = wecom
    await w.post(text_xml("linms", "帮助", 5_000_001), settle=False)
    app2 = create_app(wecom_settings, "serve", start_workers=False, clock=w.core.clock)
    client2 = await aiohttp_client(app2)
    await app2[CORE].settle()
    assert "您可以" in w.last_text("linms")


async def test_a_dead_processs_lease_is_free_once_its_heartbeat_is_stale(wecom, wecom_settings):
    """A process took linms's lease and was killed: its heartbeat stops, so another takes over in seconds,
    not when the 60 s lease runs out; while it still beats, nobody else serves linms."""
    w = wecom
    dead = InboundWorker(create_app(wecom_settings, "serve", start_workers=False)[CORE], clock=w.core.clock)
    await dead.heartbeat.beat()
    assert await dead._acquire("linms")
    await w.post(text_xml("linms", "帮助", 6_000_001), settle=False)

    await w.core.worker.schedule_pending()  # one round, well inside the holder's heartbeat
    await asyncio.gather(*w.core.worker.active.values())
    assert await pending(w.core) == 1, "a live holder's lease is respected"

    soon = w.core.clock() + STALE_AFTER + timedelta(seconds=1)
    survivor = InboundWorker(w.core, clock=lambda: soon)
    await survivor.run_until_idle()
    assert await pending(w.core) == 0
    await w.core.drainer.drain_until_idle()
    assert "您可以" in w.last_text("linms")


async def test_one_update_taken_by_two_processes_is_done_once(wecom, wecom_settings):
    """Even if two processes ever work on one update at once (a lease wrongly taken), the 'done' mark is a
    compare-and-set: one commits, the other rolls back, and one reply goes out."""
    w = wecom
    other = create_app(wecom_settings, "serve", start_workers=False, clock=w.core.clock)[CORE]
    await w.post(text_xml("linms", "帮助", 6_100_001), settle=False)
    a, b = InboundWorker(w.core), InboundWorker(other)
    await asyncio.gather(a._process_next("linms"), b._process_next("linms"))
    assert await pending(w.core) == 0
    await w.core.drainer.drain_until_idle()
    assert len(w.texts("linms")) == 1
    await other.db.dispose()


async def pending(core) -> int:
    async with core.db.session() as s:
        return (await s.execute(select(func.count()).select_from(Inbound).where(Inbound.status == "pending"))
                ).scalar_one()


async def test_one_persons_broken_update_costs_nobody_else_in_the_batch(wecom):
    """Three people's updates share a batch; linms's first one can no longer be read (a stored payload
    from an older version). The others are answered, linms is told once after three attempts, and
    linms's next update still runs after it, in order."""
    w = wecom
    await w.post(text_xml("sunlt", "帮助", 7_000_001), settle=False)
    async with w.core.db.session() as s:
        s.add(Inbound(dedup_key="broken-1", userid="linms", status="pending", attempts=0, error="",
                      payload={"platform": "wecom", "userid": "linms", "kind": "text", "dedup_key": "broken-1",
                               "text": "帮助", "created_at": "not a time"}))
    await w.post(text_xml("linms", "帮助", 7_000_002), settle=False)
    await w.post(text_xml("hezq", "帮助", 7_000_003), settle=False)

    await w.core.worker.run_until_idle()
    await w.core.drainer.drain_until_idle()

    assert "您可以" in w.last_text("sunlt") and "您可以" in w.last_text("hezq")
    linms = w.texts("linms")
    assert len(linms) == 2 and "处理出错" in linms[0] and "您可以" in linms[1]
    async with w.core.db.session() as s:
        broken = (await s.execute(select(Inbound).where(Inbound.dedup_key == "broken-1"))).scalar_one()
        counts = dict((await s.execute(select(Inbound.status, func.count()).group_by(Inbound.status))).all())
    assert (broken.status, broken.attempts) == ("failed", 3) and "ValueError" in broken.error
    assert counts == {"done": 3, "failed": 1}


async def test_many_peoples_updates_share_a_few_transactions(wecom):
    """Four people write ten times each, all at once: the forty updates are processed in one batch,
    not a transaction each, and every one is answered. The batch's statements do not grow with its
    updates: its forty replies are one INSERT (SQLite too), and nobody's missing conversation is read twice."""
    w = wecom
    people = ["sunlt", "hezq", "linms", "cuimin"]
    for i in range(40):
        await w.post(text_xml(people[i % 4], "帮助", 7_100_000 + i), settle=False)
    w.core.worker.budget = 10.0  # a batch's time budget no loaded test machine reaches: the count is exact
    before = w.core.worker.batches
    seen: list[str] = []

    def count(conn, cursor, statement, *args) -> None:
        seen.append(" ".join(statement.split()[:3]).upper())

    event.listen(Engine, "before_cursor_execute", count)  # every engine: SQLite writes on its writer thread
    try:
        await w.core.worker.run_until_idle()
    finally:
        event.remove(Engine, "before_cursor_execute", count)
    await w.core.drainer.drain_until_idle()
    assert w.core.worker.batches - before == 1
    assert seen.count("INSERT INTO OUTBOX") == 1 and len(seen) < 20, seen
    assert all(len(w.texts(u)) == 10 for u in people)
    assert await pending(w.core) == 0
