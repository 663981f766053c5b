"""Worker processes: ``serve`` answers callbacks, its children process updates and send.

With ``CAMPUSBOT_WORKERS=N`` the serving process stores and acknowledges callbacks (and serves
pages, runs the reminder clock) while N children, started and stopped with it, run the inbound
workers and the outbox drainer. Python runs one thread at a time per process, so in one process an
arriving callback waits for the handler or send in progress; apart, the acknowledgement has its own
core, and the children run ``worker_nice`` steps lower so it goes first when cores are short.

Nothing is handed over but a nudge: updates and messages are rows, and the children find them as
any process does (leases and compare-and-set claims keep each one to one process). Each child has a
pipe from the parent; a byte on it says "something was just committed" and wakes its loops at once
(without it they would look once a second). The pipe's end also tells a child its parent is gone,
even after ``kill -9``: it stops then (its leases and claims pass on through the heartbeat). A child
that dies on its own is started again within a second.
"""
from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
from typing import Callable

log = logging.getLogger(__name__)

NUDGE_FD = "CAMPUSBOT_NUDGE_FD"  # the environment variable naming a child's end of its pipe
STOP_WAIT = 15.0  # seconds a child has to finish its batch after SIGTERM before it is killed
WATCH_EVERY = 1.0  # seconds between looks for a child that died


class WorkerProcesses:
    """The serving process's children: started after the database is migrated, nudged after commits,
    and started again when one dies on its own (its batch and claims pass on through the heartbeat)."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.procs: list[subprocess.Popen | None] = [None] * count
        self._pipes: list[int | None] = [None] * count
        self._nudge_due = False
        self._watch: asyncio.Task | None = None

    def start(self) -> None:
        for slot in range(self.count):
            self._spawn(slot)
        log.info("started %d worker processes: %s", self.count, [p.pid for p in self.procs if p])
        self._watch = asyncio.create_task(self._watch_loop(), name="worker-processes")

    def _spawn(self, slot: int) -> None:
        read_end, write_end = os.pipe()
        os.set_blocking(write_end, False)
        env = {**os.environ, NUDGE_FD: str(read_end)}
        self.procs[slot] = subprocess.Popen([sys.executable, "-m", "bot.cli", "work"], env=env, pass_fds=(read_end,))
        os.close(read_end)
        self._pipes[slot] = write_end

    async def _watch_loop(self) -> None:
        while True:
            await asyncio.sleep(WATCH_EVERY)
            for slot, proc in enumerate(self.procs):
                if proc is not None and proc.poll() is not None:
                    log.error("worker process %d exited (%s); starting another", proc.pid, proc.returncode)
                    os.close(self._pipes[slot])
                    self._spawn(slot)

    def nudge(self) -> None:
        """Wake every child once per turn of the event loop, however many commits it saw."""
        if not self._nudge_due and self._watch is not None:
            self._nudge_due = True
            asyncio.get_running_loop().call_soon(self._send_nudges)

    def _send_nudges(self) -> None:
        self._nudge_due = False
        for fd in self._pipes:
            try:
                if fd is not None:
                    os.write(fd, b"\0")
            except BlockingIOError:
                pass  # its pipe is full of nudges it has not read yet: it is awake anyway
            except OSError:
                pass  # a child that died: the watch starts another

    async def stop(self) -> None:
        """SIGTERM: each child finishes the batch it is in; one that does not in time is killed."""
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        for slot, fd in enumerate(self._pipes):
            if fd is not None:
                os.close(fd)
                self._pipes[slot] = None
        running = [p for p in self.procs if p is not None]
        for proc in running:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in running:
            try:
                await asyncio.to_thread(proc.wait, STOP_WAIT)
            except subprocess.TimeoutExpired:
                log.warning("worker process %d did not stop in %.0f s; killed", proc.pid, STOP_WAIT)
                proc.kill()
                await asyncio.to_thread(proc.wait)
        self.procs = [None] * self.count


def listen_for_nudges(fd: int, on_nudge: Callable[[], None], on_parent_gone: Callable[[], None]) -> None:
    """In a child: call ``on_nudge`` when the parent nudges, ``on_parent_gone`` when its pipe ends."""
    loop = asyncio.get_running_loop()
    os.set_blocking(fd, False)

    def readable() -> None:
        try:
            data = os.read(fd, 4096)
        except BlockingIOError:
            return
        if data:
            on_nudge()
            return
        loop.remove_reader(fd)
        log.warning("the serving process is gone; this worker stops")
        on_parent_gone()

    loop.add_reader(fd, readable)
