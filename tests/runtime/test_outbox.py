"""The outbox: batches of at most 1000, bounded retries with backoff, and a crash
mid-broadcast that resumes with nobody skipped and nobody messaged twice."""
from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

from bot import outbox
from bot.outbound import Button, Card, OutboundMessage
from bot.drainer import OutboxDrainer
from bot.pace import TokenBucket
from bot.platforms.wecom.sender import DUPLICATE_CHECK_INTERVAL
from models import OutboxRecipient, Person, PersonAccount, utcnow
from sqlalchemy import event, select
from sqlalchemy.engine import Engine
from tests.support.fakewecom import SEND, http


async def add_people(core, n: int, ids: list[str] | None = None) -> list[str]:
    """People on WeCom (a person and their wecom account row each)."""
    ids = ids or [f"t{i:05d}" for i in range(n)]
    async with core.db.session() as s:
        s.add_all(Person(userid=u, name=f"教师{i}", department="机电工程系", roles_text="任课教师") for i, u in enumerate(ids))
        await s.flush()
        s.add_all(PersonAccount(platform="wecom", account_id=u, userid=u) for u in ids)
    return ids


async def broadcast(core, userids, text="期末考试安排已发布") -> outbox.Queued:
    async with core.db.session() as s:
        return await outbox.enqueue(s, userids, OutboundMessage(kind="text", text=text))


async def statuses(core) -> Counter:
    async with core.db.session() as s:
        return Counter((await s.execute(select(OutboxRecipient.status))).scalars().all())


async def test_broadcast_is_split_into_batches_of_1000(wecom):
    core = wecom.core
    ids = await add_people(core, 2500)
    await broadcast(core, ids)
    await core.drainer.drain_until_idle()
    sends = wecom.fake.calls_to(SEND)
    sizes = sorted(len(c.json["touser"].split("|")) for c in sends)
    assert sizes == [500, 1000, 1000]
    got = Counter(m["userid"] for m in wecom.fake.sent_messages())
    assert set(got) == set(ids) and set(got.values()) == {1}
    assert (await statuses(core)) == Counter({"sent": 2500})


async def test_transient_errors_back_off_then_deliver(wecom):
    core = wecom.core
    clock = {"now": utcnow() + timedelta(seconds=1)}
    drainer = OutboxDrainer(core.db, core.senders, clock=lambda: clock["now"])
    # the client itself retries 45009 a few times; make it give up once, then succeed on the next round
    wecom.fake.queue(SEND, *([45009] * 5))
    await broadcast(core, ["sunlt", "hezq"])
    await drainer.drain_until_idle()
    st = await statuses(core)
    assert st["pending"] == 2 and not wecom.fake.sent_messages()
    # not due yet: nothing is sent before the backoff has passed
    await drainer.drain_until_idle()
    assert not wecom.fake.sent_messages()
    clock["now"] += timedelta(minutes=10)
    await drainer.drain_until_idle()
    assert {m["userid"] for m in wecom.fake.sent_messages()} == {"sunlt", "hezq"}
    assert (await statuses(core)) == Counter({"sent": 2})
    assert (await statuses(core)) == Counter({"sent": 2})


async def test_permanent_failure_is_recorded_not_retried(wecom):
    core = wecom.core
    wecom.fake.invalid_users.update({"ghost1", "ghost2"})  # in the directory, gone from WeCom
    await add_people(core, 0, ["ghost1", "ghost2"])
    await broadcast(core, ["ghost1", "ghost2"])
    await core.drainer.drain_until_idle()
    assert (await statuses(core)) == Counter({"failed": 2})
    n = len(wecom.fake.calls_to(SEND))
    await core.drainer.drain_until_idle()
    assert len(wecom.fake.calls_to(SEND)) == n


async def test_partly_invalid_recipients(wecom):
    core = wecom.core
    wecom.fake.invalid_users.add("ghost")
    await add_people(core, 0, ["ghost"])
    await broadcast(core, ["sunlt", "ghost"])
    await core.drainer.drain_until_idle()
    assert (await statuses(core)) == Counter({"sent": 1, "invalid": 1})


async def die_at_wecom(drainer: OutboxDrainer, fake, calls: int) -> None:
    """Run one drain round until WeCom has delivered ``calls`` requests, then kill it before it records
    anything: the claims stay 'sending' under a worker whose heartbeat stops."""
    arrived = asyncio.Event()
    delivered = []

    async def hang(body):
        delivered.append(body)
        if len(delivered) >= calls:
            arrived.set()
        await asyncio.Event().wait()  # the answer never reaches the dead process

    fake.send_hook = hang
    task = asyncio.create_task(drainer.drain_once())
    await asyncio.wait_for(arrived.wait(), 30)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    fake.send_hook = None


async def test_every_send_carries_the_duplicate_check_from_the_first_attempt(wecom):
    await broadcast(wecom.core, ["sunlt", "hezq"])
    await wecom.core.drainer.drain_until_idle()
    (call,) = wecom.fake.calls_to(SEND)
    assert call.json["enable_duplicate_check"] == 1
    assert call.json["duplicate_check_interval"] == DUPLICATE_CHECK_INTERVAL == 4 * 3600


async def test_crash_mid_broadcast_resumes_without_skips_or_repeats(wecom):
    core = wecom.core
    ids = await add_people(core, 2200)
    await broadcast(core, ids)
    # Process A claims two batches of 1000, WeCom delivers both, and A dies before recording the result.
    crashed = OutboxDrainer(core.db, core.senders)
    await die_at_wecom(crashed, wecom.fake, calls=2)
    assert (await statuses(core))["sending"] == 2000
    first_requests = [c.json for c in wecom.fake.calls_to(SEND)]

    # Process B: A's heartbeat is stale by B's clock, so A's claims are released and resent as they were.
    later = utcnow() + timedelta(minutes=1)
    survivor = OutboxDrainer(core.db, core.senders, clock=lambda: later)
    await survivor.drain_until_idle()
    got = wecom.fake.delivery_counts()
    assert set(got) == set(ids), "nobody skipped"
    assert set(got.values()) == {1}, "nobody messaged twice"
    assert len(wecom.fake.duplicates) == 2000, "the resends were dropped by the duplicate check"
    resent = [c.json for c in wecom.fake.calls_to(SEND)[2:]]
    assert all(r in resent for r in first_requests), "each resend is the byte-identical request"
    assert (await statuses(core)) == Counter({"sent": 2200})


async def test_a_live_workers_claims_are_not_taken(wecom):
    core = wecom.core
    await broadcast(core, ["sunlt"])
    busy = OutboxDrainer(core.db, core.senders)
    await die_at_wecom(busy, wecom.fake, calls=1)
    await busy.heartbeat.beat()  # still beating: slow, not dead
    other = OutboxDrainer(core.db, core.senders)
    assert await other.release_stale_claims() == 0
    await other.drain_until_idle()
    assert (await statuses(core)) == Counter({"sending": 1})


async def test_a_card_keeps_its_task_id_across_a_resend(wecom):
    core = wecom.core
    card = Card(title="请审批", buttons=[Button(text="同意", key="task:1:approve")])
    async with core.db.session() as s:
        await outbox.enqueue(s, ["chenzr", "sunlt"], OutboundMessage(kind="card", card=card))
    await die_at_wecom(OutboxDrainer(core.db, core.senders), wecom.fake, calls=1)
    later = utcnow() + timedelta(minutes=1)
    await OutboxDrainer(core.db, core.senders, clock=lambda: later).drain_until_idle()
    first, resend = wecom.fake.calls_to(SEND)
    assert first.json == resend.json and first.json["template_card"]["task_id"]
    assert wecom.fake.delivery_counts() == Counter({"chenzr": 1, "sunlt": 1})


async def test_transient_failure_resends_the_same_batch(wecom):
    core = wecom.core
    wecom.fake.queue(SEND, *([45009] * 5))
    clock = {"now": utcnow()}
    drainer = OutboxDrainer(core.db, core.senders, clock=lambda: clock["now"])
    await broadcast(core, ["sunlt", "hezq", "linms"])
    await drainer.drain_until_idle()
    clock["now"] += timedelta(minutes=10)
    await drainer.drain_until_idle()
    calls = [c.json for c in wecom.fake.calls_to(SEND)]
    assert len(calls) == 6 and all(c == calls[0] for c in calls)
    assert wecom.fake.delivery_counts() == Counter({"sunlt": 1, "hezq": 1, "linms": 1})


async def test_the_same_words_asked_for_twice_arrive_twice(wecom):
    """帮助 twice: identical replies, yet distinct requests, so WeCom's duplicate check keeps both."""
    await wecom.say("linms", "帮助")
    await wecom.say("linms", "帮助")
    await wecom.say("linms", "帮助")
    replies = wecom.texts("linms")
    assert len(replies) == 3 and replies[0] == replies[1] == replies[2]
    bodies = [c.json["text"]["content"] for c in wecom.fake.calls_to(SEND)]
    assert len(set(bodies)) == 3 and not wecom.fake.duplicates
    assert bodies[0] == replies[0], "the first one carries no marker"


async def test_repeats_in_one_batch_are_distinct_and_in_order(wecom):
    """Replies are written in bulk when the batch commits: 帮助 three times in one batch still gives three
    distinct requests, and a message queued at once (``enqueue``) after a reply keeps its place behind it."""
    from tests.support.wecom_helpers import text_xml
    core = wecom.core
    core.worker.budget = 10.0  # no machine is that slow: one batch
    for i in range(3):
        await wecom.post(text_xml("linms", "帮助", 9_100 + i), settle=False)
    await core.worker.run_until_idle()
    assert core.worker.batches == 1
    async with core.db.session() as s:
        await outbox.enqueue_later(s, ["linms"], OutboundMessage(kind="text", text="第一条"))
        await outbox.enqueue(s, ["linms"], OutboundMessage(kind="text", text="第二条"))
    async with core.db.session() as s:
        await outbox.enqueue_later(s, ["linms"], OutboundMessage(kind="text", text="不该发出"))
        await s.rollback()
    await core.drainer.drain_until_idle()
    replies = wecom.texts("linms")
    assert len(replies) == 5 and replies[0] == replies[1] == replies[2] and replies[3:] == ["第一条", "第二条"]
    bodies = [c.json["text"]["content"] for c in wecom.fake.calls_to(SEND)]
    assert len(set(bodies[:3])) == 3 and not wecom.fake.duplicates


async def test_a_repeated_broadcast_reaches_everyone_again(wecom):
    core = wecom.core
    ids = await add_people(core, 1200)
    await broadcast(core, ids)
    await core.drainer.drain_until_idle()
    await broadcast(core, ids[:5] + ["sunlt"])
    await core.drainer.drain_until_idle()
    got = wecom.fake.delivery_counts()
    assert all(got[u] == 2 for u in ids[:5]) and got["sunlt"] == 1 and got[ids[6]] == 1


async def test_token_expiry_is_refreshed_once(wecom):
    core = wecom.core
    await broadcast(core, ["sunlt"])
    await core.drainer.drain_until_idle()
    wecom.fake.expire_tokens()
    issued = wecom.fake.token_issues
    await broadcast(core, ["hezq"])
    await core.drainer.drain_until_idle()
    assert wecom.fake.token_issues == issued + 1
    assert {m["userid"] for m in wecom.fake.sent_messages()} == {"sunlt", "hezq"}


async def test_a_person_over_their_budget_is_deferred_in_order(wecom):
    """Over the per-person limit a message waits (its next_attempt_at moves), and so does every later one."""
    core = wecom.core
    clock = {"now": utcnow()}
    drainer = OutboxDrainer(core.db, core.senders, clock=lambda: clock["now"], person_per_minute=4)
    for i in range(3):
        await broadcast(core, ["sunlt"], text=f"第{i}条")
    await broadcast(core, ["hezq", "sunlt"], text="第3条")
    await drainer.drain_until_idle()
    assert wecom.texts("sunlt") == ["第0条", "第1条"] and wecom.texts("hezq") == ["第3条"]
    async with core.db.session() as s:
        waits = (await s.execute(select(OutboxRecipient.next_attempt_at).where(
            OutboxRecipient.userid == "sunlt", OutboxRecipient.status == "pending"))).scalars().all()
    assert len(waits) == 2 and max(waits) - clock["now"] <= timedelta(seconds=30)
    for _ in range(2):
        clock["now"] += timedelta(seconds=31)
        await drainer.drain_until_idle()
    assert wecom.texts("sunlt") == ["第0条", "第1条", "第2条", "第3条"]
    assert (await statuses(core)) == Counter({"sent": 5})


async def test_a_round_is_a_few_statements_whatever_its_batches(wecom):
    """Claiming and recording are one statement each for all of a round's batches, not one per batch."""
    core = wecom.core
    ids = await add_people(core, 1500)
    await broadcast(core, ids)
    for i in range(20):
        await broadcast(core, [ids[i]], text=f"提醒{i}")
    seen: list[str] = []

    def count(conn, cursor, statement, *args) -> None:
        if "outbox_recipients" in statement:
            seen.append(statement.split()[0].upper())

    event.listen(Engine, "before_cursor_execute", count)  # every engine: SQLite writes on its writer thread
    try:
        drainer = OutboxDrainer(core.db, core.senders, person_per_minute=0)
        assert await drainer.drain_once()
        assert Counter(seen) == Counter({"SELECT": 2, "UPDATE": 4})  # release, claim, batch names, record
    finally:
        event.remove(Engine, "before_cursor_execute", count)
    assert len(wecom.fake.calls_to(SEND)) == 2
    await drainer.drain_until_idle()
    assert (await statuses(core)) == Counter({"sent": 1520})
    assert all(wecom.fake.delivery_counts()[u] == 2 for u in ids[:20])


def test_a_bucket_allows_no_more_than_its_limit_in_any_minute():
    t = [0.0]
    bucket = TokenBucket(120, clock=lambda: t[0])
    taken = 0
    for quarter in range(240):  # a minute, looked at every quarter second
        t[0] = quarter / 4
        while bucket.take() == 0.0:
            taken += 1
        if quarter == 0:
            assert taken == 60 and bucket.take() == 1.0, "half a minute's worth at once, then one a second"
    assert 115 <= taken <= 120
