"""``kill -9`` of a real ``campusbot serve`` mid-burst and mid-broadcast, then a restart.

A 通知 to everyone (1,500+ people: a full batch of 1,000, WeCom's most per call, and another) is
at WeCom — delivered, answer not yet back — while 200 people's 帮助 callbacks are arriving, when
the process is killed. The restarted process must finish everything: counted per person through
the fake's model of WeCom's duplicate check, nobody gets anything twice, nobody is skipped.

The worst stall is measured from the moment the restarted process answers: the
time until the batches that were at WeCom are resent, and the longest gap with
no delivery at all until everything has arrived; both must stay under 15 s (the
old claim timeout made it 2 minutes). The restart's boot time is printed apart.
"""
from __future__ import annotations

import asyncio
import time

import aiohttp

from tests.reliability.support import (
    OFFICE, Figures, Serve, free_port, import_directory, is_help, post_callback, say, serve_env, start_fake,
    wait_for, write_directory,
)
from tests.support.wecom_helpers import text_xml

TEACHERS = 1500  # the held batch is a full 1,000; more people only make the directory import longer
BURST = 200
STALL_LIMIT = 15.0
NOTICE = "请各位老师于本周五前提交期末试卷及评分标准"


def is_notice(m: dict) -> bool:
    return m["card"] is not None and m["content"] == "教务处通知"


async def test_kill_mid_broadcast_and_mid_burst_then_restart(db_url, tmp_path):
    fake = await start_fake()
    serve = None
    try:
        env = serve_env(db_url, fake, free_port(), tmp_path / "data")
        everyone = write_directory(tmp_path / "people.csv", TEACHERS)
        await import_directory(env, tmp_path, tmp_path / "people.csv")
        serve = Serve(env, tmp_path)
        await serve.start()

        # Hold WeCom's answer to the first big batch: delivered at WeCom, never confirmed to the bot.
        at_wecom = asyncio.Event()
        never = asyncio.Event()

        async def hold_broadcast(body: dict) -> None:
            if len(str(body.get("touser", "")).split("|")) >= 1000 and not never.is_set():
                at_wecom.set()
                await never.wait()

        fake.send_hook = hold_broadcast
        burst_people = [f"t{i:05d}" for i in range(BURST)]
        accepted: dict[str, float] = {}
        async with aiohttp.ClientSession() as http:
            for i, words in enumerate(["通知", NOTICE, "全体", "无", "是"]):
                await say(http, serve.base, OFFICE, words, 70_000_000 + i)
            await wait_for(lambda: any("请核对通知" in m["content"] for m in fake.sent_messages()
                                       if m["userid"] == OFFICE), 60, "the notice review")

            async def burst() -> None:
                sem = asyncio.Semaphore(10)

                async def one(i: int, userid: str) -> None:
                    async with sem:
                        await asyncio.sleep(i * 0.01)
                        accepted[userid] = await post_callback(
                            http, serve.base, text_xml(userid, "帮助", 71_000_000 + i), until=time.time() + 120)

                await asyncio.gather(*(one(i, u) for i, u in enumerate(burst_people)))

            burst_task = asyncio.create_task(burst())
            await asyncio.sleep(0.3)
            await say(http, serve.base, OFFICE, "确认", 70_000_010)
            await asyncio.wait_for(at_wecom.wait(), 60)
            killed_at = serve.kill()
            never.set()
            fake.send_hook = None
            helped_at_kill = len(fake.delivery_counts(is_help))
            posted_at_kill = len(accepted)
            await serve.start()
            ready_at = time.time()
            boot = ready_at - serve.launched_at

            recipients = [u for u in everyone if u != OFFICE]
            await burst_task
            await wait_for(lambda: len(fake.delivery_counts(is_notice)) >= len(recipients)
                           and len(fake.delivery_counts(is_help)) >= BURST, 60, "every delivery", step=0.2)
            await asyncio.sleep(1.5)  # anything doubled would arrive now

        notices, helps = fake.delivery_counts(is_notice), fake.delivery_counts(is_help)
        # Progress after the restarted process is up: every delivery, and every resend WeCom dropped.
        events = sorted(d.at for d in fake.deliveries + fake.duplicates if d.at > ready_at)
        gaps = [b - a for a, b in zip([ready_at] + events, events)]
        resent_after = min(d.at for d in fake.duplicates) - ready_at
        waits = [d.at - max(ready_at, accepted.get(d.userid, 0.0)) for d in fake.deliveries if d.at > killed_at]
        fig = Figures(
            sent=len(recipients) + BURST,
            delivered=sum(1 for u in recipients if notices[u]) + sum(1 for u in burst_people if helps[u]),
            doubled=sum(fake.doubled().values()),
            dropped_by_check=len(fake.duplicates),
            worst_stall=max(max(gaps, default=0.0), resent_after),
        )
        fig.lost = fig.sent - fig.delivered
        fig.show(f"kill -9 mid-broadcast/mid-burst, {db_url.split(':')[0]}")
        print(f"  at the kill: {posted_at_kill}/{BURST} callbacks accepted, {helped_at_kill} replies delivered; "
              f"restart took {boot:.1f}s")

        print(f"  the batches at WeCom were resent {resent_after:.1f}s after the restart; "
              f"longest gap between deliveries {max(gaps, default=0.0):.1f}s; "
              f"longest wait of one reply or card {max(waits, default=0.0):.1f}s")
        if gaps:
            i = max(range(len(gaps)), key=gaps.__getitem__)
            print(f"  longest gap ends {events[i] - ready_at:.1f}s after the restart, "
                  f"{sum(1 for e in events if e > events[i])} of {len(events)} events after it")
        for line in serve.logs[-1].read_text(errors="replace").splitlines():
            if "WARNING" in line or "ERROR" in line:
                print("  log:", line[:200])
        assert posted_at_kill < BURST and helped_at_kill < BURST, "the kill came mid-burst"
        assert fig.lost == 0, "nobody skipped"
        assert fig.doubled == 0 and set(notices.values()) == {1} and set(helps.values()) == {1}, "nobody twice"
        assert fig.dropped_by_check >= 1000, "the batch at WeCom was resent and dropped by the duplicate check"
        assert fig.worst_stall < STALL_LIMIT
    finally:
        if serve is not None:
            await serve.stop()
        await fake.close()
