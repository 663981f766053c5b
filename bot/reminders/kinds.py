"""One function per reminder kind: enqueue its messages for a claimed row, or say why not.

Each runs inside the transaction that marks the row done, so what it enqueues goes
out exactly when the row counts as sent. A new kind is one function here and one
entry in :data:`KINDS` (and the planner's rows for it).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import directory, notices, outbox
from workflow.engine import EngineError
from bot.reminders.queries import overdue_steps, run_for_window
from bot.reminders.working_time import WorkingTime, week_key
from models import Reminder, Run, Task
from workflow.agenda import flow_for_label, week_windows
from workflow.spec import WorkflowSpec

if TYPE_CHECKING:
    from bot.core import BotCore


@dataclass
class Outcome:
    status: str  # sent | skipped
    note: str = ""


@dataclass(frozen=True)
class KindContext:
    """What every kind needs: the core (specs, engine, renderer) and the working time."""

    core: "BotCore"
    hours: WorkingTime

    async def send(self, s: AsyncSession, userids: Iterable[str], template: str, **values: Any) -> None:
        r = self.core.renderer
        msg = r.card_message(template, **values) if template.endswith(".yaml.j2") else r.text_message(template, **values)
        await outbox.enqueue(s, userids, msg)


Deliver = Callable[[KindContext, AsyncSession, Reminder, datetime], Awaitable[Outcome]]


def _window(k: KindContext, row: Reminder) -> tuple[WorkflowSpec | None, dict]:
    p = dict(row.payload)
    for key in ("start", "end", "opens"):
        p[key] = date.fromisoformat(p[key])
    return k.core.specs.get(p["code"]), p


async def window_open(k: KindContext, s: AsyncSession, row: Reminder, now: datetime) -> Outcome:
    """The owners hear a window is coming, with 启动 as one tap."""
    spec, w = _window(k, row)
    if spec is None:
        return Outcome("skipped", "流程已不存在")
    if k.hours.today(now) > w["end"]:
        return Outcome("skipped", "窗口已结束")
    if w["auto_start"] and k.hours.today(now) >= w["start"]:
        return Outcome("skipped", "窗口已开始，由自动启动处理")
    owners = [p.userid for p in await directory.people_with_role(s, spec.owner)]
    if not owners:
        return Outcome("skipped", f"没有{spec.owner}人员")
    await k.send(s, owners, "reminders/window_open.yaml.j2", spec=spec, window=w, reminder_id=row.id,
                 today=k.hours.today(now))
    return Outcome("sent")


async def window_start(k: KindContext, s: AsyncSession, row: Reminder, now: datetime) -> Outcome:
    """An ``auto_start`` window starts its run, once, and tells the owners."""
    spec, w = _window(k, row)
    if spec is None:
        return Outcome("skipped", "流程已不存在")
    if k.hours.today(now) > w["end"]:
        return Outcome("skipped", "窗口已结束")
    owners = await directory.people_with_role(s, spec.owner)
    existing = await run_for_window(s, spec.code, k.hours.utc(datetime.combine(w["opens"], time())))
    if existing is not None:
        return Outcome("skipped", f"已有 {existing.record_no}")
    engine = k.core.engine
    starter = next((p for p in owners if engine.may_start(p, spec)), None)
    if starter is None:
        return Outcome("skipped", f"没有可发起{spec.code}的{spec.owner}人员")
    try:
        run = await engine.start_run(s, spec, starter, flow_id=flow_for_label(spec, w["label"]),
                                     data={"window": row.key})
    except EngineError as exc:
        return Outcome("skipped", exc.template)
    await k.send(s, [p.userid for p in owners], "reminders/auto_started.j2", spec=spec, window=w, run=run,
                 starter=starter, steps=engine.steps(run))
    return Outcome("sent", f"run:{run.id}")


async def _open_task(k: KindContext, s: AsyncSession, row: Reminder) -> tuple[Task | None, Run | None]:
    task = await s.get(Task, row.payload["task_id"])
    run = await s.get(Run, task.run_id) if task else None
    if task is None or run is None or task.status != "open" or run.status != "open" \
            or run.code not in k.core.specs:
        return None, None
    return task, run


async def _task_reminder(k: KindContext, s: AsyncSession, row: Reminder, template: str, now: datetime,
                         *, before_due: bool) -> Outcome:
    """A reminder text and the task's card again, to whoever still has it open."""
    task, run = await _open_task(k, s, row)
    if task is None:
        return Outcome("skipped", "已办结")
    if before_due and task.due_at and task.due_at <= now:
        return Outcome("skipped", "已逾期，改发逾期提醒")
    step = k.core.engine.steps(run)[task.step_index]
    await k.send(s, [task.assignee], template, run=run, step=step, task=task)
    await k.core.engine.send_task_card(s, run, step, task, reminder=True)
    return Outcome("sent")


async def deadline(k: KindContext, s: AsyncSession, row: Reminder, now: datetime) -> Outcome:
    """A working day before the task is due."""
    return await _task_reminder(k, s, row, "reminders/deadline.j2", now, before_due=True)


async def overdue(k: KindContext, s: AsyncSession, row: Reminder, now: datetime) -> Outcome:
    """Once the task is past due."""
    return await _task_reminder(k, s, row, "reminders/overdue.j2", now, before_due=False)


async def overdue_head(k: KindContext, s: AsyncSession, row: Reminder, now: datetime) -> Outcome:
    """The 系部主任 hears who in their 系部 is late with a step."""
    p = row.payload
    run = await s.get(Run, p["run_id"])
    if run is None or run.status != "open" or run.code not in k.core.specs:
        return Outcome("skipped", "已办结")
    late = (await s.execute(select(Task).where(
        Task.run_id == run.id, Task.step_index == p["step_index"], Task.department == p["department"],
        Task.status == "open", Task.due_at <= now).order_by(Task.id))).scalars().all()
    if not late:
        return Outcome("skipped", "已办结")
    assignees = {t.assignee for t in late}
    heads = [h.userid for h in await directory.people_with_role(s, "系部主任", p["department"])
             if h.userid not in assignees]
    if not heads:
        return Outcome("skipped", "没有系部主任")
    names = await directory.names(s, assignees)
    step = k.core.engine.steps(run)[p["step_index"]]
    await k.send(s, heads, "reminders/overdue_head.j2", run=run, step=step, department=p["department"],
                 names=[names.get(t.assignee, t.assignee) for t in late], due_at=late[0].due_at)
    return Outcome("sent")


async def digest(k: KindContext, s: AsyncSession, row: Reminder, now: datetime) -> Outcome:
    """教务处's Monday summary: this week's windows and what is overdue."""
    monday = date.fromisoformat(row.payload["monday"])
    if week_key(k.hours.today(now)) != row.payload["week"]:
        return Outcome("skipped", "这一周已过去")
    staff = [p.userid for p in await directory.people_with_role(s, "教务处")]
    if not staff:
        return Outcome("skipped", "没有教务处人员")
    windows = week_windows(k.core.specs, k.hours.cal, monday)
    late = await overdue_steps(s, k.core, now)
    if not windows and not late:
        return Outcome("skipped", "本周没有工作窗口，也没有逾期事项")
    await k.send(s, staff, "reminders/digest.j2", monday=monday, sunday=monday + timedelta(days=6),
                 windows=windows, overdue=late)
    return Outcome("sent")


async def notice(k: KindContext, s: AsyncSession, row: Reminder, now: datetime) -> Outcome:
    """A 通知 scheduled on the console goes out at its time, unless it was cancelled."""
    run = await s.get(Run, row.payload["run_id"])
    if run is None or run.status != "scheduled":
        return Outcome("skipped", "通知已取消")
    count = await notices.deliver(s, k.core, run)
    return Outcome("sent", f"run:{run.id} {count}")


KINDS: dict[str, Deliver] = {
    "window_open": window_open, "window_start": window_start, "deadline": deadline,
    "overdue": overdue, "overdue_head": overdue_head, "digest": digest,
    "notice": notice,
}
