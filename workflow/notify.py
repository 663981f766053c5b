"""What the engine tells people, as an interface the runtime implements.

The engine decides *who* hears *what* (a template and its values); how that
becomes a message (rendering, the links that name each recipient, the outbox
row in the same transaction, which platform reaches the person) is the
runtime's business. ``bot/notify.py`` implements it over the outbox.
"""
from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from models import Run, Task


class Notifier(Protocol):
    async def text(self, s: AsyncSession, userids: Collection[str], template: str,
                   values: Mapping[str, Any]) -> list[str]:
        """A text message from ``template`` to these people, in the caller's transaction;
        returns whom it was queued for (each once), so counts told to people are what was sent."""

    async def card(self, s: AsyncSession, userids: Collection[str], template: str, values: Mapping[str, Any],
                   *, run: Run, task: Task | None = None) -> list[str]:
        """A card about ``run`` (and ``task``); the runtime adds the links that name each recipient.
        Returns whom it was queued for."""

    async def settle(self, s: AsyncSession, run: Run) -> None:
        """Every copy of a card about this run that is no longer live shows its final state (who, when)."""
