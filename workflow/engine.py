"""The workflow engine: walks a spec's steps, creates each person's task, applies decisions by
compare-and-set, and moves on when a step's join is met. Every change happens in the caller's
transaction; what people must be told goes to the runtime's :class:`~workflow.notify.Notifier`,
which writes outbox rows in that same transaction. Imports only ``models`` and ``workflow``.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models import AuditEntry, Person, Run, Task, next_number
from workflow import authority, reading
from workflow.assign import Assignment, resolve
from workflow.hooks import HookRegistry, StepHook
from workflow.notify import Notifier
from workflow.people import people_with_role, run_owners, teaching_departments
from workflow.reading import CLOSED
from workflow.spec import Step, WorkflowSpec
from workflow import telling
from workflow.telling import tell_rejected

# For each task kind, the actions its card offers and the status each leads to.
ACTIONS = {
    "approve": {"approve": "done", "reject": "rejected"},
    "confirm": {"confirm": "done", "dispute": "done"},
    "task": {"done": "done"},
    "upload": {"done": "done"},
    "form": {"done": "done"},
    "notice": {},
}

Outcome = Literal["ok", "stale", "forbidden", "missing", "own_request", "bad_action"]
Specs = Mapping[str, WorkflowSpec]

__all__ = ["ACTIONS", "CLOSED", "Assignment", "Decision", "Engine", "EngineError", "Outcome"]


@dataclass
class Decision:
    outcome: Outcome
    task: Task | None = None
    run: Run | None = None


class EngineError(Exception):
    """A request the engine refuses; ``template`` explains it to the person."""

    def __init__(self, template: str, **values):
        super().__init__(template)
        self.template = template
        self.values = values


class Engine:
    """One per app. ``specs`` may be a mapping or a callable returning the current one."""

    def __init__(self, *, specs: Specs | Callable[[], Specs], clock: Callable[[], datetime],
                 notifier: Notifier, hooks: HookRegistry | None = None):
        self._specs = specs if callable(specs) else (lambda: specs)
        self.clock = clock
        self.notifier = notifier
        self.hooks = hooks if hooks is not None else HookRegistry()

    # ----- lookups -------------------------------------------------------------
    @property
    def specs(self) -> Specs:
        return self._specs()

    def spec(self, run: Run) -> WorkflowSpec:
        return self.specs[run.code]

    def steps(self, run: Run) -> list[Step]:
        return self.spec(run).flow(run.flow_id).steps

    def current_step(self, run: Run) -> Step | None:
        steps = self.steps(run)
        return steps[run.step_index] if run.step_index < len(steps) else None

    def hook(self, step: Step) -> StepHook | None:
        return self.hooks.get(step.handler)

    def may_start(self, person: Person, spec: WorkflowSpec) -> bool:
        return person.has_role(*spec.starters)

    own_request = staticmethod(authority.own_request)

    async def resolve(self, s: AsyncSession, run: Run, step: Step) -> list[Assignment]:
        """Who does ``step`` of ``run`` (see workflow/assign.py)."""
        return await resolve(s, run, step)

    # ----- starting --------------------------------------------------------------
    async def start_run(self, s: AsyncSession, spec: WorkflowSpec, starter: Person, *,
                        flow_id: str | None = None, data: dict | None = None,
                        departments: list[str] | None = None, title: str | None = None) -> Run:
        if not self.may_start(starter, spec):
            raise EngineError("errors/cannot_start.j2", spec=spec)
        flow = spec.flow(flow_id) if flow_id else spec.all_flows()[0]
        data = dict(data or {})
        run = Run(
            code=spec.code, flow_id=flow.id,
            title=title or (spec.name if flow.id == "main" else f"{spec.name}（{flow.name}）"),
            started_by=starter.userid,
            owner_userid=starter.userid if starter.has_role(spec.owner) else "", owner_role=spec.owner,
            subject_department=data.pop("subject_department", "") or "",
            departments=departments or await teaching_departments(s),
            data=data, created_at=self.clock(),
        )
        s.add(run)
        await s.flush()
        number = await next_number(s, f"run:{spec.code}:{run.created_at:%Y}")  # notices count apart
        run.record_no = f"{spec.code}-{run.created_at:%Y}-{number:04d}"
        await self.audit(s, run, None, starter.userid, "start", run.title)
        await self._activate(s, run, 0)
        return run

    # ----- moving through steps --------------------------------------------------
    async def _activate(self, s: AsyncSession, run: Run, index: int) -> None:
        """Open step ``index``; a step nobody can do, or a notice, lets the run go on at once."""
        steps = self.steps(run)
        while index < len(steps):
            run.step_index = index
            step = steps[index]
            assignments = await self.resolve(s, run, step)
            if not step.needed(run.data):  # e.g. the substitute's step of a request that is not 代课
                await self._create_tasks(s, run, index, step, assignments, status="not_needed")
                await self.audit(s, run, None, "system", "not_needed", step.title)
                index += 1
                continue
            if not assignments:
                await self.audit(s, run, None, "system", "no_assignee", step.title)
                await telling.tell_owner(self, s, run, "run/no_assignee.j2", step=step)
                index += 1
                continue
            tasks = await self._create_tasks(s, run, index, step, assignments)
            hook = self.hook(step)
            if hook is not None:
                await hook.on_activate(self, s, run, step, tasks)
            if step.kind == "notice":
                await self._send_notice(s, run, step, tasks)
                index += 1
                continue
            reached: list[str] = []
            for t in tasks:
                reached += await self.send_task_card(s, run, step, t)
            if hook is not None:
                await hook.on_sent(self, s, run, step, reached)
            return
        await self._finish(s, run, "done")

    async def _create_tasks(self, s: AsyncSession, run: Run, index: int, step: Step,
                            assignments: list[Assignment], status: str = "") -> list[Task]:
        now = self.clock()
        due = now + timedelta(days=step.deadline_days) if step.deadline_days is not None else None
        tasks = [Task(run_id=run.id, step_index=index, step_id=step.id, kind=step.kind, group=a.group,
                      department=a.department, assignee=a.userid, due_at=due, created_at=now,
                      status=status or ("done" if step.kind == "notice" else "open"))
                 for a in assignments]
        s.add_all(tasks)
        await s.flush()
        return tasks

    async def _send_notice(self, s: AsyncSession, run: Run, step: Step, tasks: list[Task]) -> list[str]:
        template = step.templates.get("notice", "task/notice.yaml.j2")
        values = await self._card_values(s, run, step, None)
        return await self.notifier.card(s, [t.assignee for t in tasks], template, values, run=run)

    async def send_task_card(self, s: AsyncSession, run: Run, step: Step, task: Task, *,
                             reminder: bool = False) -> list[str]:
        """The task's card to its assignee; returns whom it was queued for."""
        template = step.templates.get("card", f"task/{step.kind}.yaml.j2")
        values = await self._card_values(s, run, step, task)
        return await self.notifier.card(s, [task.assignee], template, {**values, "reminder": reminder},
                                        run=run, task=task)

    async def _card_values(self, s: AsyncSession, run: Run, step: Step, task: Task | None) -> dict:
        values = dict(run=run, spec=self.spec(run), step=step, task=task, starter=await s.get(Person, run.started_by),
                      history=await self.approvals(s, run), summary=run.data.get("summary", []))
        hook = self.hook(step)
        if hook is not None and task is not None:
            values.update(await hook.card_values(self, s, run, step, task))
        return values

    async def _step_complete(self, s: AsyncSession, run: Run, index: int, step: Step) -> bool:
        """The join: every group (or, for ``join: any``, one group) has a closed task."""
        tasks = (await s.execute(select(Task).where(Task.run_id == run.id, Task.step_index == index))).scalars().all()
        groups: dict[str, bool] = {}
        for t in tasks:
            if t.status == "cancelled":
                continue
            groups[t.group] = groups.get(t.group, False) or t.status in CLOSED
        if not groups:
            return True
        return any(groups.values()) if step.join == "any" else all(groups.values())

    async def _after_progress(self, s: AsyncSession, run: Run, task: Task) -> None:
        step = self.steps(run)[task.step_index]
        # Others in the same group (another secretary of that 系部) need not act any more.
        await s.execute(update(Task).where(Task.run_id == run.id, Task.step_index == task.step_index,
                                           Task.group == task.group, Task.status == "open")
                        .values(status="superseded"))
        if step.join == "any":
            await s.execute(update(Task).where(Task.run_id == run.id, Task.step_index == task.step_index,
                                               Task.status == "open").values(status="superseded"))
        if await self._step_complete(s, run, task.step_index, step):
            hook = self.hook(step)
            if hook is not None:
                await hook.on_complete(self, s, run, step)
            await telling.step_closed_for_starter(self, s, run, task.step_index)
            await self._activate(s, run, task.step_index + 1)

    async def _finish(self, s: AsyncSession, run: Run, status: str, reason: str = "") -> None:
        run.status = status
        run.finished_at = self.clock()
        await s.execute(update(Task).where(Task.run_id == run.id, Task.status == "open").values(status="cancelled"))
        await self.audit(s, run, None, "system", status, reason)
        if status == "done":
            owners = await run_owners(s, run)
            values = dict(run=run, spec=self.spec(run))
            # The 工作标准 checklist is for whoever is accountable; the starter hears "done" once, without it.
            await self.notifier.text(s, owners, "run/done.j2", {**values, "standards": True})
            told = self.spec(run).notify_starter and any("starter" in st.templates for st in self.steps(run))
            if run.started_by not in owners and not told:
                await self.notifier.text(s, [run.started_by], "run/done.j2", {**values, "standards": False})

    # ----- decisions -------------------------------------------------------------
    async def check(self, s: AsyncSession, task_id: int, actor: Person, action: str) -> Decision:
        """May ``actor`` take ``action`` on the task now? Re-checked on every decision."""
        task = await s.get(Task, task_id)
        if task is None:
            return Decision("missing")
        run = await s.get(Run, task.run_id)
        if run.code not in self.specs:  # a 通知 has its own buttons
            return Decision("missing")
        if action not in ACTIONS.get(task.kind, {}):
            return Decision("bad_action", task, run)
        if task.assignee != actor.userid:
            return Decision("forbidden", task, run)
        if task.kind == "approve" and self.own_request(run, actor.userid):
            return Decision("own_request", task, run)
        if run.status != "open" or task.status != "open":
            return Decision("stale", task, run)
        return Decision("ok", task, run)

    async def act(self, s: AsyncSession, task_id: int, actor: Person, action: str,
                  result: dict | None = None) -> Decision:
        """Apply a decision by compare-and-set: a double tap or a stale card gets ``stale``."""
        decision = await self.check(s, task_id, actor, action)
        if decision.outcome != "ok":
            return decision
        task, run = decision.task, decision.run
        step = self.steps(run)[task.step_index]
        new_status = ACTIONS[task.kind][action]
        if action == "dispute" and step.disputes == "thread":  # the step waits until 教务处 settles it
            new_status = "disputed"
        payload = {**(result or {}), "action": action}
        res = await s.execute(
            update(Task).where(Task.id == task.id, Task.status == "open")
            .values(status=new_status, acted_by=actor.userid, acted_at=self.clock(), result=payload)
            .execution_options(synchronize_session=False)
        )
        if res.rowcount != 1:  # someone (or a double tap) got there first
            return Decision("stale", task, run)
        await s.refresh(task)
        await self.audit(s, run, task, actor.userid, action, payload.get("reason", ""))
        if new_status == "rejected":
            await self._finish(s, run, "rejected", payload.get("reason", ""))
            await tell_rejected(self, s, run, step, actor, payload.get("reason", ""))
            await self.notifier.settle(s, run)
            return Decision("ok", task, run)
        hook = self.hook(step)
        if hook is not None:
            await hook.on_task_done(self, s, run, step, task)
        if new_status != "disputed":
            await self._after_progress(s, run, task)
        await self.notifier.settle(s, run)
        return Decision("ok", task, run)

    async def progressed(self, s: AsyncSession, run: Run, task: Task) -> None:
        """A task closed outside ``act`` (a settled 有异议): its group and step may be complete now."""
        await self._after_progress(s, run, task)
        await self.notifier.settle(s, run)

    async def waiting(self, s: AsyncSession, run: Run) -> list[str]:
        return await reading.waiting(s, run)

    async def withdraw(self, s: AsyncSession, run: Run, actor: Person) -> str:
        """撤回 by the starter while the run is still open: ``ok``, ``forbidden`` or ``stale``."""
        if run.started_by != actor.userid:
            return "forbidden"
        if run.status != "open":
            return "stale"
        waiting = await self.waiting(s, run)
        res = await s.execute(update(Run).where(Run.id == run.id, Run.status == "open")
                              .values(status="cancelled", finished_at=self.clock())
                              .execution_options(synchronize_session=False))
        if res.rowcount != 1:
            return "stale"
        await s.refresh(run)
        await s.execute(update(Task).where(Task.run_id == run.id, Task.status == "open").values(status="cancelled"))
        await self.audit(s, run, None, actor.userid, "withdraw", "")
        if waiting:
            await self.notifier.text(s, waiting, "run/withdrawn_assignee.j2", dict(run=run, starter=actor))
        await self.notifier.settle(s, run)
        return "ok"

    async def remind(self, s: AsyncSession, run: Run, actor: Person | None = None) -> list[str]:
        """催办: send the card again to everyone still open on the current step; returns whom it reached."""
        open_tasks = (await s.execute(select(Task).where(Task.run_id == run.id, Task.status == "open")
                                      .order_by(Task.id))).scalars().all()
        steps = self.steps(run)
        reached: list[str] = []
        for t in open_tasks:
            reached += await self.send_task_card(s, run, steps[t.step_index], t, reminder=True)
        await self.audit(s, run, None, actor.userid if actor else "system", "remind", str(len(open_tasks)))
        return list(dict.fromkeys(reached))

    async def skip_step(self, s: AsyncSession, run: Run, actor: Person, reason: str) -> Step | None:
        """跳过 the current step: the owner's call, never an approval's (raises EngineError)."""
        step = self.current_step(run)
        await self._enforce(s, authority.may_skip(run, step, actor))
        if step is None or run.status != "open":
            return None
        await s.execute(update(Task).where(Task.run_id == run.id, Task.step_index == run.step_index,
                                           Task.status == "open").values(status="skipped", acted_by=actor.userid))
        await self.audit(s, run, None, actor.userid, "skip", f"{step.title}：{reason}")
        hook = self.hook(step)
        if hook is not None:  # a skipped step is over too: 教务处 still gets what came in
            await hook.on_complete(self, s, run, step)
        await telling.step_closed_for_starter(self, s, run, run.step_index)
        await self._activate(s, run, run.step_index + 1)
        await self.notifier.settle(s, run)
        return step

    async def close(self, s: AsyncSession, run: Run, actor: Person, reason: str) -> None:
        """办结: the owner closes an open run early (raises EngineError when not allowed)."""
        waiting = (await s.execute(select(Task.id).where(Task.run_id == run.id, Task.status == "open",
                                                         Task.kind == "approve"))).all()
        await self._enforce(s, authority.may_close(run, len(waiting), actor))
        await self.audit(s, run, None, actor.userid, "close", reason)
        await self._finish(s, run, "done", reason)
        await self.notifier.settle(s, run)

    async def reassign(self, s: AsyncSession, task: Task, new: Person, actor: Person, reason: str) -> bool:
        """转派, if ``authority.may_reassign`` allows it (else EngineError): the task changes hands
        by compare-and-set; the old assignee is told, the new one gets a note and the card."""
        run = await s.get(Run, task.run_id)
        step = self.steps(run)[task.step_index]
        await self._enforce(s, authority.may_reassign(run, step, task, actor, new))
        old_userid = task.assignee
        res = await s.execute(update(Task).where(Task.id == task.id, Task.status == "open",
                                                 Task.assignee == old_userid)
                              .values(assignee=new.userid).execution_options(synchronize_session=False))
        if res.rowcount != 1:
            return False
        await s.refresh(task)
        await self.audit(s, run, task, actor.userid, "reassign", f"{old_userid} → {new.name}：{reason}")
        values = dict(run=run, step=step, task=task, actor=actor, old=await s.get(Person, old_userid),
                      new=new, reason=reason)
        await self.notifier.text(s, [old_userid], "run/reassigned_old.j2", values)
        await self.notifier.text(s, [new.userid], "run/reassigned_new.j2", values)
        await self.send_task_card(s, run, step, task)
        await self.notifier.settle(s, run)
        return True

    # ----- reading ----------------------------------------------------------------
    async def approvals(self, s: AsyncSession, run: Run) -> list[dict]:
        return await reading.approvals(s, run, self.steps(run))

    async def progress(self, s: AsyncSession, run: Run) -> list[dict]:
        return await reading.progress(s, run, self.steps(run), self.clock())

    async def open_tasks(self, s: AsyncSession, userid: str) -> list[tuple[Task, Run]]:
        return await reading.open_tasks(s, userid)

    # ----- small helpers ------------------------------------------------------------
    @staticmethod
    async def _enforce(s: AsyncSession, refusal: authority.Refusal | None) -> None:
        if refusal is not None:
            raise EngineError(refusal.template, **await authority.explain(s, refusal))

    async def audit(self, s: AsyncSession, run: Run | None, task: Task | None, actor: str, action: str, detail: str) -> None:
        s.add(AuditEntry(run_id=run.id if run else None, task_id=task.id if task else None, actor=actor,
                         action=action, detail=detail, at=self.clock()))
