"""What a run looks like to people: who decided what, each step's progress, a person's open tasks.

Read-only queries the engine exposes; they need only the run's steps and the directory.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models import Run, Task
from workflow.people import names
from workflow.spec import Step

# A task in one of these states has met its duty (the group counts as done).
CLOSED = ("done", "skipped")
# A step whose ``when`` does not hold for the run (the substitute's step of a 调课): its tasks,
# if anyone was named, are kept in this state and nobody is asked.
NOT_NEEDED = "not_needed"


async def approvals(s: AsyncSession, run: Run, steps: list[Step]) -> list[dict]:
    """Who decided what and when, for records and cards."""
    rows = (await s.execute(select(Task).where(Task.run_id == run.id, Task.acted_by != "",
                                               Task.status.in_(("done", "rejected")))
                            .order_by(Task.acted_at, Task.id))).scalars().all()
    who = await names(s, [t.acted_by for t in rows])
    return [dict(step=steps[t.step_index].label, kind=t.kind, name=who.get(t.acted_by, t.acted_by),
                 action=t.result.get("action", ""), reason=t.result.get("reason", ""), at=t.acted_at,
                 label=steps[t.step_index].labels.get(t.result.get("action", ""), ""))  # e.g. 已确认代课
            for t in rows]


async def progress(s: AsyncSession, run: Run, steps: list[Step], now: datetime) -> list[dict]:
    """Every step with each group's state (done / open / overdue / rejected) and open task ids."""
    tasks = (await s.execute(select(Task).where(Task.run_id == run.id).order_by(Task.id))).scalars().all()
    who = await names(s, [t.assignee for t in tasks])
    out = []
    for i, step in enumerate(steps):
        groups: dict[str, dict] = {}
        for t in (t for t in tasks if t.step_index == i):
            _add_to_group(groups, t, who, now)
        state = NOT_NEEDED if not step.needed(run.data) else _step_state(run, i)
        out.append(dict(index=i + 1, step=step, state=state, groups=list(groups.values())))
    return out


def _add_to_group(groups: dict[str, dict], t: Task, who: dict[str, str], now: datetime) -> None:
    g = groups.setdefault(t.group, {"department": t.department or t.group, "person": "",
                                    "people": [], "state": "open", "open_ids": []})
    if t.group.endswith("/" + t.assignee):  # an individual duty: show the person
        g["person"] = who.get(t.assignee, t.assignee)
    g["people"].append(who.get(t.assignee, t.assignee))
    if t.status in CLOSED:
        g["state"] = "done"
    elif t.status == NOT_NEEDED:
        g["state"] = NOT_NEEDED
    elif t.status == "rejected":
        g["state"] = "rejected"
    elif t.status == "disputed" and g["state"] != "done":
        g["state"] = "disputed"
    elif t.status == "open":
        g["open_ids"].append(t.id)
        if t.due_at and t.due_at < now and g["state"] == "open":
            g["state"] = "overdue"


def _step_state(run: Run, i: int) -> str:
    if i < run.step_index or (i == run.step_index and run.status == "done"):
        return "done"
    if i == run.step_index:
        return "active" if run.status == "open" else run.status  # rejected | cancelled
    return "pending"


async def open_tasks(s: AsyncSession, userid: str) -> list[tuple[Task, Run]]:
    """A person's open tasks in open runs (通知 have their own list), oldest first."""
    rows = (await s.execute(select(Task, Run).join(Run, Run.id == Task.run_id)
                            .where(Task.assignee == userid, Task.status == "open", Run.status == "open",
                                   Run.code != "notice")
                            .order_by(Task.id))).all()
    return [(t, r) for t, r in rows]


async def waiting(s: AsyncSession, run: Run) -> list[str]:
    """Who still has an open task in the run: the people a 撤回 tells."""
    rows = await s.execute(select(Task.assignee).where(Task.run_id == run.id, Task.status == "open")
                           .order_by(Task.id))
    return list(dict.fromkeys(rows.scalars().all()))
