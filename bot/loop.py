"""A background loop that works until idle, then sleeps until poked (or a second passes).

Polling once a second lets several processes share the database tables; a poke
makes this process react at once to what it just committed.

Stopping lets the round in progress finish (for up to ``STOP_GRACE`` seconds) before cancelling:
a task cancelled inside a SQLite transaction can leave the database locked for the process's
last writes (the heartbeat's goodbye waited out SQLite's 30-second busy timeout).
"""
from __future__ import annotations

import asyncio
import logging

log = logging.getLogger(__name__)


STOP_GRACE = 5.0  # seconds a stopping loop's round may take to finish


class PollingLoop:
    loop_name = "loop"

    def __init__(self) -> None:
        self.wakeup = asyncio.Event()
        self.stopping = False
        self._task: asyncio.Task | None = None

    async def run_round(self) -> None:
        """Do what is due now."""
        raise NotImplementedError

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name=self.loop_name)

    async def stop(self) -> None:
        if self._task:
            self.stopping = True
            self.wakeup.set()
            done, _ = await asyncio.wait({self._task}, timeout=STOP_GRACE)
            if not done:
                self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
            self.stopping = False

    def poke(self) -> None:
        self.wakeup.set()

    async def _loop(self) -> None:
        while not self.stopping:
            # Cleared before the round, so a poke during the round (a new update stored, a person
            # finished) starts the next round at once instead of after the one-second poll.
            self.wakeup.clear()
            try:
                await self.run_round()
            except asyncio.CancelledError:
                raise
            except Exception:  # one bad round must not stop the loop
                log.exception("%s round failed", self.loop_name)
            if self.stopping:
                return
            try:
                await asyncio.wait_for(self.wakeup.wait(), timeout=1.0)
            except asyncio.TimeoutError:
                pass
