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
    """Never more than ``per_minute`` takes in any minute, on ``clock`` (seconds).

    Half a minute's worth may go at once and the rest flows evenly: a burst plus a minute's refill
    stays within the limit wherever the minute is cut (a full bucket with a full rate would allow twice it).
    """

    def __init__(self, per_minute: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = max(1.0, per_minute / 2)
        self.rate = max(1.0, per_minute - self.capacity) / 60.0
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
