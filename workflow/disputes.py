"""有异议 as a thread (a confirm step with ``disputes: thread``): the person's task waits as
``disputed`` and the step with it, until 教务处 answers — 维持 with a reason (the task is done)
or 已更正 (the old task is superseded by a new one: the person confirms the corrected figure).
Every decision is compare-and-set on the dispute's status, so a second tap says 已处理."""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models import Dispute, Person, Run, Task

if TYPE_CHECKING:
    from workflow.engine import Engine

Outcome = Literal["ok", "stale", "forbidden", "missing"]


async def open_dispute(engine: "Engine", s: AsyncSession, run: Run, task: Task) -> Dispute:
    dispute = Dispute(run_id=run.id, task_id=task.id, userid=task.acted_by or task.assignee,
                      reason=task.result.get("reason", ""), created_at=engine.clock())
    s.add(dispute)
    await s.flush()
    return dispute


async def check(s: AsyncSession, dispute_id: int, actor: Person) -> tuple[Outcome, Dispute | None, Run | None]:
    dispute = await s.get(Dispute, dispute_id)
    if dispute is None:
        return "missing", None, None
    run = await s.get(Run, dispute.run_id)
    if not actor.has_role("教务处"):
        return "forbidden", dispute, run
    if dispute.status != "open" or run is None or run.status != "open":
        return "stale", dispute, run
    return "ok", dispute, run


async def decide(engine: "Engine", s: AsyncSession, dispute_id: int, actor: Person,
                 action: Literal["correct", "keep"], answer: str,
                 apply: Callable[[Run], None] = lambda run: None) -> tuple[Outcome, Dispute | None, Task | None]:
    """Settle a dispute. 维持: the task is done. 已更正: ``apply`` changes the run's data, then a new
    task asks the same person again (returned)."""
    outcome, dispute, run = await check(s, dispute_id, actor)
    if outcome != "ok":
        return outcome, dispute, None
    status = "corrected" if action == "correct" else "kept"
    res = await s.execute(update(Dispute).where(Dispute.id == dispute_id, Dispute.status == "open")
                          .values(status=status, answer=answer, decided_by=actor.userid, decided_at=engine.clock())
                          .execution_options(synchronize_session=False))
    if res.rowcount != 1:
        return "stale", dispute, None
    await s.refresh(dispute)
    task = await s.get(Task, dispute.task_id)
    await engine.audit(s, run, task, actor.userid, f"dispute_{status}", answer)
    if action == "keep":
        await s.execute(update(Task).where(Task.id == task.id, Task.status == "disputed").values(status="done")
                        .execution_options(synchronize_session=False))
        await s.refresh(task)
        await engine.progressed(s, run, task)
        return "ok", dispute, task
    apply(run)
    await s.execute(update(Task).where(Task.id == task.id, Task.status == "disputed").values(status="superseded")
                    .execution_options(synchronize_session=False))
    again = Task(run_id=run.id, step_index=task.step_index, step_id=task.step_id, kind=task.kind, group=task.group,
                 department=task.department, assignee=dispute.userid, due_at=task.due_at, created_at=engine.clock())
    s.add(again)
    await s.flush()
    await engine.send_task_card(s, run, engine.steps(run)[task.step_index], again)
    await engine.notifier.settle(s, run)
    return "ok", dispute, again


async def open_disputes(s: AsyncSession, run: Run) -> list[Dispute]:
    rows = await s.execute(select(Dispute).where(Dispute.run_id == run.id, Dispute.status == "open")
                           .order_by(Dispute.id))
    return list(rows.scalars())
