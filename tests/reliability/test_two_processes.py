"""Two ``campusbot serve`` processes on one PostgreSQL database, as a scaled-out deployment runs.

Five teachers ask for 调课 through either process. Their 系部 has two 系部主任, so each
request's approval card goes to both; both tap 同意 at the same moment, one through
each process, and WeCom also delivers the first head's tap to both processes. Every
request must get exactly one decision, one next-step card (to the 分管领导) and one
audit entry: the compare-and-set on the task (``status == 'open'`` in the completing
UPDATE) and the inbound dedup key are what make it so.
"""
from __future__ import annotations

import asyncio
import time
import uuid
from datetime import date, datetime, timedelta, timezone

import aiohttp
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

from models import AuditEntry, Inbound, OutboxRecipient, Task
from tests.reliability.support import (
    PG_SKIP, PG_URL, Serve, free_port, import_directory, post_callback, reset_postgres, say, serve_env,
    start_fake, wait_for, write_directory,
)
from tests.support.flows import school_days
from tests.support.wecom_helpers import template_card_event_xml

HEADS = ("chenzr", "fangzr")  # both 系部主任 of 机电工程系
LEADER = "zhaogm"  # 教务处分管领导
TEACHERS = ("sunlt", "hezq", "maqiang", "t90001", "t90002")  # five races: one is rarely enough to catch a bug
PERIODS = ("第1-2节", "第3-4节", "第5-6节", "第7-8节")


def answers(today: date) -> list[list[str]]:
    """Each teacher's 调课 answers. The processes read today from the machine's clock, so the days are counted
    from it; each request asks for its own new slot (the class in one slot twice would be a conflict to explain)."""
    first, *later = school_days(today, 3)
    slots = [f"{d.month}月{d.day}日 {p}" for d in later for p in PERIODS]
    return [["调课", "电工基础", "计网2401", f"{first.month}月{first.day}日 第3-4节", "实训楼A301", slots[i], "不变",
             "参加比赛"] for i in range(len(TEACHERS))]


def approval_cards(fake, userid: str) -> list[dict]:
    return [m["card"] for m in fake.sent_messages()
            if m["userid"] == userid and m["card"] and any(b["text"] == "同意" for b in m["card"].get("button_list", []))]


def key_of(card: dict, text: str) -> str:
    return next(b["key"] for b in card["button_list"] if b["text"] == text)


async def quiet(engine) -> bool:
    async with engine.connect() as conn:
        busy_in = (await conn.execute(select(func.count()).select_from(Inbound)
                                      .where(Inbound.status == "pending"))).scalar_one()
        busy_out = (await conn.execute(select(func.count()).select_from(OutboxRecipient)
                                       .where(OutboxRecipient.status.in_(("pending", "sending"))))).scalar_one()
    return busy_in == 0 and busy_out == 0


@pytest.mark.skipif(not PG_URL, reason=PG_SKIP)
async def test_same_card_tapped_at_once_in_two_processes(tmp_path):
    forms = answers((datetime.now(timezone.utc) + timedelta(hours=8)).date())  # Beijing's today, as serve reads it
    await reset_postgres(PG_URL)
    fake = await start_fake()
    engine = create_async_engine(PG_URL)
    serves: list[Serve] = []
    try:
        env_a = serve_env(PG_URL, fake, free_port(), tmp_path / "data")
        write_directory(tmp_path / "people.csv", extra=["fangzr,方志荣,机电工程系,系部主任;任课教师,",
                                                                 "t90001,教师甲,机电工程系,任课教师,",
                                                                 "t90002,教师乙,机电工程系,任课教师,"])
        await import_directory(env_a, tmp_path, tmp_path / "people.csv")
        a = Serve(env_a, tmp_path, "serve-a")
        b = Serve({**env_a, "CAMPUSBOT_PORT": str(free_port())}, tmp_path, "serve-b")
        serves += [a, b]
        await asyncio.gather(a.start(), b.start())

        async with aiohttp.ClientSession() as http:
            async def request(i: int, teacher: str) -> None:
                via = (a, b)[i % 2]
                for j, words in enumerate(forms[i] + ["确认"]):
                    await say(http, via.base, teacher, words, 80_000_000 + i * 100 + j)

            await asyncio.gather(*(request(i, t) for i, t in enumerate(TEACHERS)))
            await wait_for(lambda: all(len(approval_cards(fake, h)) == len(TEACHERS) for h in HEADS), 90,
                           "both heads' approval cards")

            # Each request: chenzr taps 同意 (WeCom delivers that tap to both processes) while fangzr taps 同意
            # on the same request through the other process — all at the same moment.
            taps = []
            now = int(time.time())
            for head_card, other_card in zip(approval_cards(fake, "chenzr"), approval_cards(fake, "fangzr")):
                same = template_card_event_xml("chenzr", key_of(head_card, "同意"), head_card["task_id"],
                                               uuid.uuid4().hex, create_time=now)
                other = template_card_event_xml("fangzr", key_of(other_card, "同意"), other_card["task_id"],
                                                uuid.uuid4().hex, create_time=now)
                taps += [(a, same), (b, same), (b, other)]
            await asyncio.gather(*(post_callback(http, s.base, xml, until=time.time() + 60) for s, xml in taps))

            deadline = time.time() + 90
            while not (len(approval_cards(fake, LEADER)) >= len(TEACHERS) and await quiet(engine)):
                assert time.time() < deadline, "the taps were not all processed"
                await asyncio.sleep(0.3)
            await asyncio.sleep(1.5)  # a second decision, if any, would surface now
            assert await quiet(engine)

        async with engine.connect() as conn:
            first = (await conn.execute(select(Task.run_id, Task.status, Task.assignee)
                                        .where(Task.step_id == "dept_approve"))).all()
            second = (await conn.execute(select(Task.run_id, func.count()).where(Task.step_id == "leader_approve")
                                         .group_by(Task.run_id))).all()
            audits = (await conn.execute(select(AuditEntry.run_id, func.count())
                                         .where(AuditEntry.action == "approve").group_by(AuditEntry.run_id))).all()
        runs = {r for r, *_ in first}
        decisions = {r: sum(1 for rr, st, _ in first if rr == r and st == "done") for r in runs}
        leader_cards = len(approval_cards(fake, LEADER))
        print(f"\n[two processes, one card tapped at once] requests={len(runs)} decisions={decisions} "
              f"next-step tasks={dict(second)} leader cards={leader_cards} approve audits={dict(audits)} "
              f"taps posted={len(taps)}")
        assert len(runs) == len(TEACHERS)
        assert {r: {u for rr, _, u in first if rr == r} for r in runs} == {r: set(HEADS) for r in runs}, \
            "each request's approval went to both heads"
        assert decisions == {r: 1 for r in runs}, "exactly one decision per request"
        assert dict(second) == {r: 1 for r in runs}, "one next step per request"
        assert leader_cards == len(TEACHERS), "one next-step card per request"
        assert dict(audits) == {r: 1 for r in runs}, "one audit entry per decision"
    finally:
        for s in serves:
            await s.stop()
        await engine.dispose()
        await fake.close()
