"""A background loop that works until idle, then sleeps until poked (or a second passes).

Polling once a second lets several processes share the database tables; a poke
makes this process react at once to what it just committed.
"""
from __future__ import annotations

import asyncio
import logging

log = logging.getLogger(__name__)


class PollingLoop:
    loop_name = "loop"

    def __init__(self) -> None:
        self.wakeup = asyncio.Event()
        self._task: asyncio.Task | None = None

    async def run_round(self) -> None:
        """Do what is due now."""
        raise NotImplementedError

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name=self.loop_name)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    def poke(self) -> None:
        self.wakeup.set()

    async def _loop(self) -> None:
        while True:
            # Cleared before the round, so a poke during the round (a new update stored, a person
            # finished) starts the next round at once instead of after the one-second poll.
            self.wakeup.clear()
            try:
                await self.run_round()
            except asyncio.CancelledError:
                raise
            except Exception:  # one bad round must not stop the loop
                log.exception("%s round failed", self.loop_name)
            try:
                await asyncio.wait_for(self.wakeup.wait(), timeout=1.0)
            except asyncio.TimeoutError:
                pass
