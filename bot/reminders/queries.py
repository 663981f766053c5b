"""Database readers the reminders and the 本周/启动 chat share."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import directory
from models import Run, Task

if TYPE_CHECKING:
    from bot.core import BotCore


async def overdue_steps(s: AsyncSession, core: "BotCore", now: datetime) -> list[dict]:
    """Open workflow steps with someone past due: run, step, due time and who, one entry per step."""
    rows = (await s.execute(
        select(Task, Run).join(Run, Run.id == Task.run_id)
        .where(Task.status == "open", Task.due_at < now, Run.status == "open", Run.code.in_(list(core.specs)))
        .order_by(Task.due_at, Task.run_id, Task.step_index, Task.id))).all()
    who = await directory.names(s, [t.assignee for t, _ in rows])
    steps: dict[tuple[int, int], dict] = {}
    for t, run in rows:
        item = steps.setdefault((run.id, t.step_index), {
            "run": run, "step": core.engine.steps(run)[t.step_index], "due_at": t.due_at, "people": []})
        label = who.get(t.assignee, t.assignee)
        item["people"].append(f"{t.department} {label}" if t.department and t.department != "教务处" else label)
    return list(steps.values())


async def run_for_window(s: AsyncSession, code: str, since: datetime) -> Run | None:
    """A run of ``code`` started since the window's reminder (not withdrawn): the window's run."""
    return (await s.execute(
        select(Run).where(Run.code == code, Run.created_at >= since, Run.status != "cancelled")
        .order_by(Run.id.desc()).limit(1))).scalar_one_or_none()
