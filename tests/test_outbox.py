"""The outbox: batches of at most 1000, bounded retries with backoff, and a crash
mid-broadcast that resumes with nobody skipped and nobody messaged twice."""
from __future__ import annotations

from collections import Counter
from datetime import timedelta

from bot import outbox
from bot.outbound import OutboundMessage
from bot.outbox import OutboxDrainer
from models import OutboxRecipient, Person, utcnow
from sqlalchemy import select
from tests.fakewecom import SEND, http


async def add_people(core, n: int) -> list[str]:
    ids = [f"t{i:05d}" for i in range(n)]
    async with core.db.session() as s:
        s.add_all(Person(userid=u, name=f"教师{i}", department="机电工程系", roles_text="任课教师") for i, u in enumerate(ids))
    return ids


async def broadcast(core, userids, text="期末考试安排已发布") -> int:
    async with core.db.session() as s:
        return await outbox.enqueue(s, "wecom", userids, OutboundMessage(kind="text", text=text))


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
    wecom.fake.invalid_users.update({"ghost1", "ghost2"})
    await broadcast(core, ["ghost1", "ghost2"])
    await core.drainer.drain_until_idle()
    assert (await statuses(core)) == Counter({"failed": 2})
    n = len(wecom.fake.calls_to(SEND))
    await core.drainer.drain_until_idle()
    assert len(wecom.fake.calls_to(SEND)) == n


async def test_partly_invalid_recipients(wecom):
    core = wecom.core
    wecom.fake.invalid_users.add("ghost")
    await broadcast(core, ["sunlt", "ghost"])
    await core.drainer.drain_until_idle()
    assert (await statuses(core)) == Counter({"sent": 1, "invalid": 1})


async def test_crash_mid_broadcast_resumes_without_skips_or_repeats(wecom):
    core = wecom.core
    ids = await add_people(core, 2200)
    await broadcast(core, ids)
    # Process A claims the first batch and WeCom delivers it, then A dies before recording the result.
    crashed = OutboxDrainer(core.db, core.senders)
    outbox_row, batch = await crashed._claim_batch()
    assert len(batch) == 1000
    sender = core.senders["wecom"]
    await sender.send([r.userid for r in batch], OutboundMessage.from_json(outbox_row.message), dedup=False)
    # A second batch was claimed but never sent at all.
    _, batch2 = await crashed._claim_batch()
    assert len(batch2) == 1000

    # Process B starts later; the dead claims have expired.
    later = utcnow() + timedelta(minutes=5)
    survivor = OutboxDrainer(core.db, core.senders, clock=lambda: later)
    await survivor.drain_until_idle()
    got = Counter(m["userid"] for m in wecom.fake.sent_messages())
    assert set(got) == set(ids), "nobody skipped"
    assert set(got.values()) == {1}, "nobody messaged twice"
    assert (await statuses(core)) == Counter({"sent": 2200})
    # the resent batches asked WeCom to drop duplicates
    assert any(c.json.get("enable_duplicate_check") == 1 for c in wecom.fake.calls_to(SEND))


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
