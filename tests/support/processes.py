"""Real ``campusbot`` processes for tests: one-shot commands and servers on free ports."""
from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.support.wecom_helpers import AES_KEY, CORP_ID, TOKEN


def run(args: list[str], tmp_path: Path, **env) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CAMPUSBOT_")}
    clean.update({"CAMPUSBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/cli.db"})
    clean.update(env)
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], cwd=tmp_path, env=clean,
                          capture_output=True, text=True, timeout=120)


# Under pytest-xdist each worker takes ports from its own band, below Linux's ephemeral range (32768+):
# a port one worker found free is never handed to another worker before its server has bound it.
PORT_BANDS_FROM, PORT_BAND = 20000, 1000


def _free_port() -> int:
    """A port free on 127.0.0.1 now, for a server about to start."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    candidates = [0]
    if worker.startswith("gw") and worker[2:].isdigit():
        start = PORT_BANDS_FROM + int(worker[2:]) * PORT_BAND
        candidates = random.sample(range(start, start + PORT_BAND), 100)
    for port in candidates:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return sock.getsockname()[1]
    raise AssertionError(f"no free port in {worker}'s band")


def _serve_env(tmp_path: Path, port: int, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMPUSBOT_")}
    env.update({
        "CAMPUSBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/serve.db", "CAMPUSBOT_PORT": str(port),
        "CAMPUSBOT_WECOM_CORP_ID": CORP_ID, "CAMPUSBOT_WECOM_AGENT_ID": "1000002", "CAMPUSBOT_WECOM_SECRET": "s",
        "CAMPUSBOT_WECOM_TOKEN": TOKEN, "CAMPUSBOT_WECOM_AES_KEY": AES_KEY, "CAMPUSBOT_WECOM_MAX_SKEW": "0",
        "CAMPUSBOT_WECOM_API_BASE": "http://127.0.0.1:9",  # nothing is sent in these tests
        "CAMPUSBOT_SECRET_KEY": "cli-test-secret-key-0123456789",
    })
    env.update(extra)
    return env


class Server:
    """A real ``campusbot`` server process; its log goes to a file (never a pipe nobody reads)."""

    def __init__(self, args: list[str], tmp_path: Path, env: dict, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.log_path = tmp_path / f"{args[0]}-{port}.log"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "bot.cli", *args], cwd=tmp_path, env=env,
                                     stdout=self._log, stderr=subprocess.STDOUT)

    def __enter__(self) -> "Server":
        deadline = time.time() + 90  # a loaded machine takes long to start Python
        while time.time() < deadline:
            try:
                urllib.request.urlopen(self.base + "/healthz", timeout=1).read()
                return self
            except OSError:
                assert self.proc.poll() is None, self.log()
                time.sleep(0.2)
        raise AssertionError("server did not start: " + self.log())

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=20)
        self._log.close()

    def get(self, path: str, **headers) -> int:
        import urllib.error
        try:
            return urllib.request.urlopen(urllib.request.Request(self.base + path, headers=headers), timeout=5).status
        except urllib.error.HTTPError as exc:
            return exc.code

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")
