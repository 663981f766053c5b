"""Real ``campusbot serve`` processes for the reliability suite: started, killed with SIGKILL,
restarted, fed genuine encrypted WeCom callbacks, sending to the fake WeCom in the test process.

Deliveries are counted per person through the fake's model of WeCom's duplicate check.
"""
from __future__ import annotations

import asyncio
import csv
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from tests.support.databases import PG_SKIP, reset_postgres  # noqa: F401 - the reliability tests' names
from tests.support.fakewecom import FakeWeCom
from tests.support.processes import _free_port as free_port  # noqa: F401 - the reliability tests' name for it
from tests.support.wecom_helpers import AES_KEY, AGENT_ID, CORP_ID, TOKEN, signed_post, text_xml

ROOT = Path(__file__).resolve().parents[2]
DEMO_DIRECTORY = ROOT / "bot" / "demo" / "directory.csv"
PG_URL = os.environ.get("CAMPUSBOT_TEST_DATABASE_URL", "")
SECRET = "reliability-secret"
OFFICE = "wangjw"  # 教务处 in the demo directory


def is_help(m: dict) -> bool:
    """A 帮助 answer, as the fake recorded it."""
    return m["msgtype"] in ("text", "markdown") and "您可以" in m["content"]


async def start_fake() -> FakeWeCom:
    fake = FakeWeCom(corp_id=CORP_ID, secret=SECRET)
    await fake.start()
    return fake


def serve_env(db_url: str, fake: FakeWeCom, port: int, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMPUSBOT_")}
    env.update({
        "CAMPUSBOT_DATABASE_URL": db_url, "CAMPUSBOT_PORT": str(port), "CAMPUSBOT_HOST": "127.0.0.1",
        "CAMPUSBOT_DATA_DIR": str(data_dir), "CAMPUSBOT_SECRET_KEY": "reliability-signing-key-0123456789",
        "CAMPUSBOT_WECOM_CORP_ID": CORP_ID, "CAMPUSBOT_WECOM_AGENT_ID": AGENT_ID, "CAMPUSBOT_WECOM_SECRET": SECRET,
        "CAMPUSBOT_WECOM_TOKEN": TOKEN, "CAMPUSBOT_WECOM_AES_KEY": AES_KEY, "CAMPUSBOT_WECOM_MAX_SKEW": "0",
        "CAMPUSBOT_WECOM_API_BASE": fake.base_url, "CAMPUSBOT_WECOM_RETRY_BASE": "0.05",
        "CAMPUSBOT_WORK_HOURS": "00:00-00:01",  # keep the reminder clock quiet during the test
    })
    return env


def write_directory(path: Path, teachers: int = 0, extra: list[str] = ()) -> list[str]:
    """The demo directory plus ``teachers`` 任课教师 of 机电工程系 (t00000…); returns every userid."""
    rows = DEMO_DIRECTORY.read_text(encoding="utf-8").splitlines()
    rows += list(extra)
    rows += [f"t{i:05d},教师{i},机电工程系,任课教师," for i in range(teachers)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    with path.open(encoding="utf-8") as f:
        return [r["userid"] for r in csv.DictReader(f)]


async def import_directory(env: dict[str, str], cwd: Path, csv_path: Path) -> None:
    def run() -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "bot.cli", "directory", "import", str(csv_path)],
                              cwd=cwd, env=env, capture_output=True, text=True, timeout=180)

    r = await asyncio.to_thread(run)
    assert r.returncode == 0, r.stderr


@dataclass
class Serve:
    """One ``campusbot serve`` process; restartable on the same port."""

    env: dict[str, str]
    cwd: Path
    name: str = "serve"
    proc: subprocess.Popen | None = None
    launched_at: float = 0.0
    logs: list[Path] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.env['CAMPUSBOT_PORT']}"

    async def start(self) -> float:
        """Launch and wait for /healthz; returns the launch time (time.time())."""
        log_path = self.cwd / f"{self.name}-{len(self.logs)}.log"
        self.logs.append(log_path)
        self.launched_at = time.time()
        with log_path.open("wb") as log:  # a file, not a pipe nobody reads
            self.proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve"], cwd=self.cwd, env=self.env,
                                         stdout=log, stderr=subprocess.STDOUT)
        async with aiohttp.ClientSession() as http:
            while time.time() < self.launched_at + 90:  # a loaded machine takes long to start Python
                if self.proc.poll() is not None:
                    raise AssertionError(f"{self.name} exited: {log_path.read_text(errors='replace')[-2000:]}")
                try:
                    async with http.get(self.base + "/healthz", timeout=aiohttp.ClientTimeout(total=1)) as r:
                        if r.status == 200:
                            return self.launched_at
                except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
                    pass
                await asyncio.sleep(0.1)
        raise AssertionError(f"{self.name} did not answer /healthz")

    def kill(self) -> float:
        """SIGKILL: no cleanup, no last commit. Returns when it happened."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=20)
        return time.time()

    async def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            await asyncio.to_thread(self.proc.wait, 30)


async def post_callback(http: aiohttp.ClientSession, base: str, xml: str, *, until: float) -> float:
    """Post a genuine callback as WeCom does, again and again until it is answered 200 (WeCom retries too;
    the same message keeps its MsgId, so a retry is a duplicate). Returns when it was accepted."""
    while True:
        query, body = signed_post(xml)
        try:
            async with http.post(base + "/wecom/callback", params=query, data=body,
                                 timeout=aiohttp.ClientTimeout(total=5)) as r:
                if r.status == 200:
                    return time.time()
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
            pass
        if time.time() > until:
            raise AssertionError(f"callback not accepted by {base}")
        await asyncio.sleep(0.2)


async def say(http: aiohttp.ClientSession, base: str, userid: str, words: str, msg_id: int) -> float:
    return await post_callback(http, base, text_xml(userid, words, msg_id), until=time.time() + 60)


async def wait_for(predicate, timeout: float, what: str, step: float = 0.1) -> None:
    end = time.time() + timeout
    while not predicate():
        if time.time() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(step)


@dataclass
class Figures:
    """What a reader wants to see after a crash test."""

    sent: int = 0  # deliveries expected
    delivered: int = 0  # expected deliveries that arrived at least once
    lost: int = 0
    doubled: int = 0  # extra copies people saw
    dropped_by_check: int = 0  # resends WeCom's duplicate check dropped
    worst_stall: float = 0.0  # seconds, from restart (or arrival, if later) to delivery

    def show(self, title: str) -> None:
        print(f"\n[{title}] sent={self.sent} delivered={self.delivered} lost={self.lost} "
              f"doubled={self.doubled} dropped_by_duplicate_check={self.dropped_by_check} "
              f"worst_stall_after_restart={self.worst_stall:.1f}s")
