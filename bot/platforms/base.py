"""What the outbox needs from a platform: send one message to a batch of users."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from bot.outbound import OutboundMessage


class TransientSendError(Exception):
    """Worth retrying later (rate limit, 5xx, network)."""


class PermanentSendError(Exception):
    """Retrying will not help (bad request, no valid recipient)."""


@dataclass
class SendResult:
    invalid_users: list[str] = field(default_factory=list)


class PlatformSender(Protocol):
    name: str
    max_batch: int  # recipients per call (WeCom: 1000)

    async def send(self, userids: list[str], message: OutboundMessage, *, dedup: bool, ref: str = "") -> SendResult:
        """Send ``message`` to ``userids``.

        ``dedup``: ask the platform to drop a request identical to one it delivered
        lately (WeCom's enable_duplicate_check). The outbox always asks, from the
        first attempt, and resends a batch as the identical request, so a batch
        that reached the platform before a crash is not delivered twice.
        ``message.variant`` > 0 marks a deliberate repeat of an identical message:
        the platform must make the request differ (or it would be dropped).
        ``ref`` identifies the outbox row, for platforms that store messages themselves.
        Raises TransientSendError or PermanentSendError.
        """
        ...
