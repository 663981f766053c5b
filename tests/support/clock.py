"""The app's clock in tests: the harness fixtures pin it to SCHOOL_NOW, whatever the real date;
a test may also set it by hand (``core.clock = ManualClock(...)``)."""
from __future__ import annotations

import time
from datetime import date, datetime, timedelta

# 10:00 in Beijing (naive UTC, like every stored time) on a Thursday in 第13教学周 of the shipped 校历.
SCHOOL_NOW = datetime(2026, 12, 3, 2, 0)
TODAY: date = (SCHOOL_NOW + timedelta(hours=8)).date()


class ManualClock:
    """Returns ``now`` (naive UTC) until a test moves it; a ``running`` one ticks on from there at real speed,
    so leases, heartbeats and retry backoffs still expire while the date stays where it was put."""

    def __init__(self, now: datetime, *, running: bool = False):
        self.running = running
        self.set(now)

    def __call__(self) -> datetime:
        if self.running:
            return self.now + timedelta(seconds=time.monotonic() - self._set_at)
        return self.now

    def set(self, now: datetime) -> None:
        self.now = now
        self._set_at = time.monotonic()

    def advance(self, **delta: float) -> datetime:
        self.set(self() + timedelta(**delta))
        return self.now


class ShiftedClock:
    """Real time moved to start at ``start`` (naive UTC) and still ticking, so live workers keep their
    leases and heartbeats; ``advance`` jumps it forward (a scheduled time reached)."""

    def __init__(self, start: datetime):
        self.offset = start - datetime.utcnow()

    def __call__(self) -> datetime:
        return datetime.utcnow() + self.offset

    def advance(self, **delta: float) -> datetime:
        self.offset += timedelta(**delta)
        return self()


def school_clock() -> ManualClock:
    """The clock every in-process app of the tests runs on: SCHOOL_NOW, ticking."""
    return ManualClock(SCHOOL_NOW, running=True)
