"""Python for the steps that carry real data, registered by ``handler`` name by the
composition root (``bot/composition.py``, ``build_hooks``).

Everything else about a step is in its spec file; a hook only adds what a
button cannot: producing a record, checking a spreadsheet, merging uploads.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.problems import Problem
from workflow.hooks import BaseStepHook
from workflow.spec import Step
from models import Run, Task

if TYPE_CHECKING:
    from bot.engine import BotEngine
    from handlers.sheets import Table


class StepHook(BaseStepHook):
    """Override what a step needs; the defaults do nothing. Hooks get the runtime's engine."""

    # A spreadsheet with only its header row is accepted (it means "nothing to report"),
    # instead of being refused as having no data rows.
    allow_empty_sheet: bool = False

    async def on_activate(self, engine: "BotEngine", s: AsyncSession, run: Run, step: Step, tasks: list[Task]) -> None:
        return None

    async def on_sent(self, engine: "BotEngine", s: AsyncSession, run: Run, step: Step, reached: list[str]) -> None:
        """The step's cards went out; ``reached`` is whom the outbox queued them for."""
        return None

    async def on_complete(self, engine: "BotEngine", s: AsyncSession, run: Run, step: Step) -> None:
        return None

    async def on_task_done(self, engine: "BotEngine", s: AsyncSession, run: Run, step: Step, task: Task) -> None:
        """One person's decision was applied (``task.result`` holds the action and any reason)."""
        return None

    async def card_values(self, engine: "BotEngine", s: AsyncSession, run: Run, step: Step, task: Task) -> dict:
        """Extra values for this task's card template (e.g. the lines this teacher checks)."""
        return {}

    def check_upload(self, step: Step, table: "Table | None") -> list[Problem]:
        """Problems with an uploaded file a secretary can act on (rendered where they are shown).

        ``table`` is the sheet as read once (None when the file is not a spreadsheet).
        Runs on the file pool, off the event loop: no database here."""
        return []
