"""Python for the steps that carry real data, looked up by the ``handler`` name in a spec.

Everything else about a step is in its spec file; a hook only adds what a
button cannot: producing a record, checking a spreadsheet, merging uploads.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.problems import Problem
from workflow.spec import Step
from models import Run, Task

if TYPE_CHECKING:
    from bot.engine import Engine
    from handlers.sheets import Table


class StepHook:
    """Override what a step needs; the defaults do nothing."""

    # A spreadsheet with only its header row is accepted (it means "nothing to report"),
    # instead of being refused as having no data rows.
    allow_empty_sheet: bool = False

    async def on_activate(self, engine: "Engine", s: AsyncSession, run: Run, step: Step, tasks: list[Task]) -> None:
        return None

    async def on_complete(self, engine: "Engine", s: AsyncSession, run: Run, step: Step) -> None:
        return None

    async def on_task_done(self, engine: "Engine", s: AsyncSession, run: Run, step: Step, task: Task) -> None:
        """One person's decision was applied (``task.result`` holds the action and any reason)."""
        return None

    async def card_values(self, engine: "Engine", s: AsyncSession, run: Run, step: Step, task: Task) -> dict:
        """Extra values for this task's card template (e.g. the lines this teacher checks)."""
        return {}

    def check_upload(self, step: Step, table: "Table | None") -> list[Problem]:
        """Problems with an uploaded file a secretary can act on (rendered where they are shown).

        ``table`` is the sheet as read once (None when the file is not a spreadsheet).
        Runs on the file pool, off the event loop: no database here."""
        return []


_HOOKS: dict[str, StepHook] = {}


def register(name: str):
    def deco(cls: type[StepHook]) -> type[StepHook]:
        _HOOKS[name] = cls()
        return cls
    return deco


def step_handler(name: str | None) -> StepHook | None:
    if not name:
        return None
    _load()
    return _HOOKS.get(name)


def known_handlers() -> set[str]:
    _load()
    return set(_HOOKS)


def _load() -> None:
    from handlers.data import adjust_record, makeup, signup, spreadsheets, step_form, workload  # noqa: F401
