"""A deploy's SIGTERM to a real ``campusbot serve`` in the middle of a burst: the process lets its
rounds and batches in flight finish (for up to 5 s) and exits within seconds, and what it had not
done yet is done by the next process, each reply once.

(Under the benchmark's heavier load, a stop that cancelled work inside a SQLite transaction once
left the process's goodbye waiting out the 30-second busy timeout; this burst is lighter and does not
reproduce that, but guards the stop's promise: prompt, and nothing lost or doubled.)"""
from __future__ import annotations

import asyncio
import time

import aiohttp

from tests.reliability.support import (
    Serve, free_port, import_directory, is_help, post_callback, serve_env, start_fake, wait_for, write_directory,
)
from tests.support.wecom_helpers import text_xml

PEOPLE = 150
EACH = 3
EXIT_WITHIN = 15.0  # seconds; the grace for a round in progress is 5


async def test_sigterm_mid_burst_exits_promptly_and_the_next_process_finishes(db_url, tmp_path):
    fake = await start_fake()
    serve = None
    try:
        env = serve_env(db_url, fake, free_port(), tmp_path / "data")
        write_directory(tmp_path / "people.csv", PEOPLE)
        await import_directory(env, tmp_path, tmp_path / "people.csv")
        serve = Serve(env, tmp_path)
        await serve.start()
        people = [f"t{i:05d}" for i in range(PEOPLE)]
        async with aiohttp.ClientSession() as http:
            lanes = asyncio.Semaphore(32)

            async def one(n: int) -> None:
                async with lanes:
                    await post_callback(http, serve.base, text_xml(people[n % PEOPLE], "帮助", 80_000_000 + n),
                                        until=time.time() + 60)

            await asyncio.gather(*(one(n) for n in range(PEOPLE * EACH)))
            answered_at_stop = sum(fake.delivery_counts(is_help).values())
            stopping = time.time()
            serve.proc.terminate()
            code = await asyncio.to_thread(serve.proc.wait, 60)
            took = time.time() - stopping
            log = serve.logs[-1].read_text(errors="replace")

            await serve.start()
            await wait_for(lambda: sum(fake.delivery_counts(is_help).values()) >= PEOPLE * EACH, 120,
                           "every reply after the restart", step=0.2)
            await asyncio.sleep(1.0)  # anything doubled would arrive now
        print(f"\n[SIGTERM mid-burst, {db_url.split(':')[0]}] {answered_at_stop}/{PEOPLE * EACH} answered at the "
              f"stop; exit took {took:.1f}s")
        assert answered_at_stop < PEOPLE * EACH, "the stop came mid-burst"
        assert took < EXIT_WITHIN and code == 0, (took, code)
        assert "database is locked" not in log
        helps = fake.delivery_counts(is_help)
        # Each person asked 帮助 three times: three distinct replies each, none more (a resend of one would be
        # dropped by the fake's duplicate check, as by WeCom's), none fewer.
        assert set(helps) == set(people) and set(helps.values()) == {EACH}, "each reply once, nobody skipped"
    finally:
        if serve is not None:
            await serve.stop()
        await fake.close()
