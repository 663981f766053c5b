"""Token buckets for the platforms' limits (WeCom: about 20,000 calls a minute per app, 30 messages
a minute per person). The drainer waits on an app's bucket for exactly as long as it needs to refill,
and defers a person over their budget instead of waiting on them."""
from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Callable

APP_CALLS_PER_MINUTE = 20000  # WeCom's per-app limit on calls
PERSON_PER_MINUTE = 30  # WeCom's limit on messages to one person
_FORGET_ABOVE = 50_000  # people remembered before full buckets are forgotten


class TokenBucket:
    """``per_minute`` tokens a minute, at most a minute's worth saved, on ``clock`` (seconds)."""

    def __init__(self, per_minute: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = per_minute / 60.0
        self.capacity = float(per_minute)
        self.tokens = self.capacity
        self.clock = clock
        self.at = clock()

    def take(self) -> float:
        """Take a token: 0.0, or the seconds until one is there (nothing taken)."""
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + max(0.0, now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate

    async def acquire(self) -> None:
        """Wait exactly as long as the bucket needs to refill (no fixed sleeps)."""
        while (wait := self.take()) > 0:
            await asyncio.sleep(wait)


class PersonBudget:
    """One bucket per person on the drainer's clock; ``per_minute`` 0 is no limit."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self.now = 0.0
        self.buckets: dict[str, TokenBucket] = {}

    def take(self, userid: str, now: datetime) -> float:
        if not self.per_minute:
            return 0.0
        self.now = now.timestamp()
        bucket = self.buckets.get(userid)
        if bucket is None:
            if len(self.buckets) > _FORGET_ABOVE:  # forget the full ones: they behave as new
                self.buckets = {u: b for u, b in self.buckets.items()
                                if b.tokens + (self.now - b.at) * b.rate < b.capacity}
            bucket = self.buckets[userid] = TokenBucket(self.per_minute, lambda: self.now)
        return bucket.take()
