"""``campusbot serve`` with worker processes (CAMPUSBOT_WORKERS): the serving process only stores and
acknowledges; its children process and send. A burst is answered once each; a worker killed on its
own is replaced; ``kill -9`` of the serving process takes its children down with it (their pipe
ends) and the next start finishes what was left, each reply once; SIGTERM stops all of them promptly."""
from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import aiohttp

from tests.reliability.support import (
    Serve, free_port, import_directory, is_help, post_callback, serve_env, start_fake, wait_for, write_directory,
)
from tests.support.wecom_helpers import text_xml

PEOPLE = 60
EACH = 3
WORKERS = 2


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(c) for c in path.read_text().split()] if path.exists() else []


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except FileNotFoundError:
        return False
    return state != "Z"


async def burst(http: aiohttp.ClientSession, serve: Serve, people: list[str], first_id: int) -> None:
    lanes = asyncio.Semaphore(16)

    async def one(n: int) -> None:
        async with lanes:
            await post_callback(http, serve.base, text_xml(people[n % len(people)], "帮助", first_id + n),
                                until=time.time() + 60)

    await asyncio.gather(*(one(n) for n in range(len(people) * EACH)))


async def test_workers_answer_once_die_with_their_parent_and_stop_with_it(db_url, tmp_path):
    fake = await start_fake()
    serve = None
    try:
        env = serve_env(db_url, fake, free_port(), tmp_path / "data")
        env["CAMPUSBOT_WORKERS"] = str(WORKERS)
        write_directory(tmp_path / "people.csv", PEOPLE)
        await import_directory(env, tmp_path, tmp_path / "people.csv")
        people = [f"t{i:05d}" for i in range(PEOPLE)]
        serve = Serve(env, tmp_path)
        await serve.start()
        await wait_for(lambda: len(children(serve.proc.pid)) == WORKERS, 60, "the worker processes")
        workers = children(serve.proc.pid)

        async with aiohttp.ClientSession() as http:
            await burst(http, serve, people, 81_000_000)  # every callback acknowledged
            await wait_for(lambda: sum(fake.delivery_counts(is_help).values()) >= PEOPLE * EACH, 120,
                           "every reply, sent by the workers", step=0.2)

            os.kill(workers[0], signal.SIGKILL)  # a worker dies on its own: another takes its place
            await wait_for(lambda: len(children(serve.proc.pid)) == WORKERS and workers[0] not in children(serve.proc.pid),
                           30, "a new worker process")
            workers = children(serve.proc.pid)
            await burst(http, serve, people, 81_500_000)
            await wait_for(lambda: sum(fake.delivery_counts(is_help).values()) >= 2 * PEOPLE * EACH, 120,
                           "the replies after a worker died", step=0.2)

            await burst(http, serve, people, 82_000_000)
            serve.kill()  # kill -9 the serving process, its workers mid-work
            await wait_for(lambda: not any(alive(w) for w in workers), 30, "the workers to follow their parent")

            await serve.start()
            await wait_for(lambda: sum(fake.delivery_counts(is_help).values()) >= 3 * PEOPLE * EACH, 120,
                           "what was left, after the restart", step=0.2)
            await asyncio.sleep(1.0)  # anything doubled would arrive now
            workers = children(serve.proc.pid)

        helps = fake.delivery_counts(is_help)
        assert set(helps) == set(people) and set(helps.values()) == {3 * EACH}, "each reply once, nobody skipped"

        stopping = time.time()
        serve.proc.terminate()
        code = await asyncio.to_thread(serve.proc.wait, 60)
        assert code == 0 and time.time() - stopping < 20
        await wait_for(lambda: not any(alive(w) for w in workers), 30, "the workers to stop with it")
        assert "database is locked" not in serve.logs[-1].read_text(errors="replace")
    finally:
        if serve is not None:
            await serve.stop()
        await fake.close()
