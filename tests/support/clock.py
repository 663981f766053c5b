"""A clock tests set by hand: ``core.clock = ManualClock(...)``."""
from __future__ import annotations

from datetime import datetime, timedelta


class ManualClock:
    """Returns ``now`` (naive UTC, like every stored time) until a test moves it."""

    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def set(self, now: datetime) -> None:
        self.now = now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
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
