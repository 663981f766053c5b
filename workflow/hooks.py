"""The step-hook contract and the registry the composition root fills.

A spec step names a ``handler``; the hook registered under that name adds what a
button cannot: producing a record, checking a spreadsheet, merging uploads. Hooks
are registered explicitly by whoever builds the app (``registry.add(name, hook)``),
never as a side effect of importing a module, so which hooks exist does not depend
on start-up order. ``registry.check(specs)`` names every step whose handler is missing.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from sqlalchemy.ext.asyncio import AsyncSession

from models import Run, Task
from workflow.spec import Step, WorkflowSpec

if TYPE_CHECKING:
    from workflow.engine import Engine

# What check_upload returns: handlers.problems.Problem values, rendered by whoever shows them.
Problem = Any
# What check_upload reads: the uploaded sheet as read once (handlers.sheets.Table), or None.
Table = Any


@runtime_checkable
class StepHook(Protocol):
    """What a step's Python may add; :class:`BaseStepHook` has a no-op for each."""

    # A spreadsheet with only its header row is accepted (it means "nothing to report").
    allow_empty_sheet: bool

    async def on_activate(self, engine: "Engine", s: AsyncSession, run: Run, step: Step, tasks: list[Task]) -> None:
        """The step opened and its tasks exist."""

    async def on_sent(self, engine: "Engine", s: AsyncSession, run: Run, step: Step, reached: list[str]) -> None:
        """The step's cards went out; ``reached`` is whom the outbox queued them for."""

    async def on_complete(self, engine: "Engine", s: AsyncSession, run: Run, step: Step) -> None:
        """The step's join was met."""

    async def on_task_done(self, engine: "Engine", s: AsyncSession, run: Run, step: Step, task: Task) -> None:
        """One person's decision was applied (``task.result`` holds the action and any reason)."""

    async def card_values(self, engine: "Engine", s: AsyncSession, run: Run, step: Step, task: Task) -> dict:
        """Extra values for this task's card template (e.g. the lines this teacher checks)."""

    def check_upload(self, step: Step, table: Table | None) -> list[Problem]:
        """Problems with an uploaded file a secretary can act on (off the event loop, no database)."""

    def sheet_columns(self, step: Step) -> tuple[list[str], list[str]]:
        """The sheet an upload here expects, as (required, optional) columns: its template and its page."""


class BaseStepHook:
    """A hook that does nothing; subclass it and override what the step needs."""

    allow_empty_sheet: bool = False

    async def on_activate(self, engine: "Engine", s: AsyncSession, run: Run, step: Step, tasks: list[Task]) -> None:
        return None

    async def on_sent(self, engine: "Engine", s: AsyncSession, run: Run, step: Step, reached: list[str]) -> None:
        return None

    async def on_complete(self, engine: "Engine", s: AsyncSession, run: Run, step: Step) -> None:
        return None

    async def on_task_done(self, engine: "Engine", s: AsyncSession, run: Run, step: Step, task: Task) -> None:
        return None

    async def card_values(self, engine: "Engine", s: AsyncSession, run: Run, step: Step, task: Task) -> dict:
        return {}

    def check_upload(self, step: Step, table: Table | None) -> list[Problem]:
        return []

    def sheet_columns(self, step: Step) -> tuple[list[str], list[str]]:
        return list(step.columns or []), list(step.optional_columns)


class HookRegistry:
    """Step hooks by the ``handler`` name specs use; one registry per app, filled explicitly."""

    def __init__(self, hooks: Mapping[str, StepHook] | None = None):
        self._hooks: dict[str, StepHook] = {}
        for name, hook in (hooks or {}).items():
            self.add(name, hook)

    def add(self, name: str, hook: StepHook) -> StepHook:
        """Register ``hook`` under ``name``; a name registered twice is a wiring mistake."""
        if not name:
            raise ValueError("a step hook needs a name")
        if name in self._hooks:
            raise ValueError(f"step hook {name!r} is already registered")
        if not isinstance(hook, StepHook):
            raise TypeError(f"step hook {name!r} does not implement StepHook: {hook!r}")
        self._hooks[name] = hook
        return hook

    def get(self, name: str | None) -> StepHook | None:
        """The hook for a step's ``handler`` (None for a step without one, or an unknown name)."""
        return self._hooks.get(name) if name else None

    def names(self) -> set[str]:
        return set(self._hooks)

    def __contains__(self, name: object) -> bool:
        return name in self._hooks

    def __iter__(self) -> Iterator[str]:
        return iter(self._hooks)

    def __len__(self) -> int:
        return len(self._hooks)

    def check(self, specs: Mapping[str, WorkflowSpec] | Iterable[WorkflowSpec]) -> list[str]:
        """One line per step whose ``handler`` has no hook, naming the workflow, step and field."""
        items = specs.values() if isinstance(specs, Mapping) else specs
        return [f"{spec.code} {spec.name}: step {step.id}, field handler: 没有名为 {step.handler!r} 的步骤处理程序"
                for spec in items for flow in spec.all_flows() for step in flow.steps
                if step.handler and step.handler not in self._hooks]
