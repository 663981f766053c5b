"""The workflow engine: walks a spec's steps, creates each person's task,
applies decisions by compare-and-set, and moves on when a step's join is met.

Every change happens in the caller's transaction, together with the outbox
rows it produces, so a decision and its messages commit or vanish together.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Literal

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot import authority, directory, outbox
from bot.authority import OFFICE_ROLES
from bot.outbound import OutboundMessage
from workflow.spec import Step, WorkflowSpec
from models import AuditEntry, Person, Run, Task

if TYPE_CHECKING:
    from bot.core import BotCore

ACTIONS = {
    "approve": {"approve": "done", "reject": "rejected"},
    "confirm": {"confirm": "done", "dispute": "done"},
    "task": {"done": "done"},
    "upload": {"done": "done"},
    "form": {"done": "done"},
    "notice": {},
}
CLOSED = ("done", "skipped")

Outcome = Literal["ok", "stale", "forbidden", "missing", "own_request", "bad_action"]


@dataclass
class Decision:
    outcome: Outcome
    task: Task | None = None
    run: Run | None = None


@dataclass
class Assignment:
    group: str
    department: str
    userid: str


class EngineError(Exception):
    """A request the engine refuses; ``template`` explains it to the person."""

    def __init__(self, template: str, **values):
        super().__init__(template)
        self.template = template
        self.values = values


class Engine:
    def __init__(self, core: "BotCore"):
        from handlers.data import known_handlers

        self.core = core
        known_handlers()  # load the step hooks now: some add chat (a step form's 填写 button)

    # ----- lookups -------------------------------------------------------------
    def spec(self, run: Run) -> WorkflowSpec:
        return self.core.specs[run.code]

    def steps(self, run: Run) -> list[Step]:
        return self.spec(run).flow(run.flow_id).steps

    def current_step(self, run: Run) -> Step | None:
        steps = self.steps(run)
        return steps[run.step_index] if run.step_index < len(steps) else None

    def may_start(self, person: Person, spec: WorkflowSpec) -> bool:
        return person.has_role(*spec.starters)

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
            departments=departments or await directory.teaching_departments(s),
            data=data, created_at=self.core.clock(),
        )
        s.add(run)
        await s.flush()
        run.record_no = f"{spec.code}-{run.created_at:%Y}-{run.id:04d}"
        await self.audit(s, run, None, starter.userid, "start", run.title)
        await self._activate(s, run, 0)
        return run

    # ----- who does a step -------------------------------------------------------
    async def resolve(self, s: AsyncSession, run: Run, step: Step) -> list[Assignment]:
        starter = await s.get(Person, run.started_by)
        out: list[Assignment] = []
        for a in step.assignees:
            if a.party == "教务处":
                if run.owner_userid:
                    out.append(Assignment("教务处", "教务处", run.owner_userid))
                else:
                    out += [Assignment("教务处", "教务处", p.userid)
                            for p in await directory.people_with_role(s, "教务处")]
            elif a.party == "分管领导":
                out += [Assignment("分管领导", p.department, p.userid)
                        for p in await directory.people_with_role(s, "教务处分管领导")]
            elif a.party == "发起人":
                if a.role is None:
                    out.append(Assignment("发起人", starter.department if starter else "", run.started_by))
                else:
                    dept = starter.department if starter else ""
                    out += self._by_role(await directory.people_with_role(s, a.role, dept), a.role, dept)
            else:
                role = a.role or "教学秘书"
                if a.party == "通识教育部":
                    depts = ["通识教育部"]
                elif a.scope == "starter":
                    depts = [starter.department] if starter else []
                elif a.scope == "subject":
                    depts = [run.subject_department] if run.subject_department else []
                else:
                    depts = list(run.departments)
                for dept in depts:
                    out += self._by_role(await directory.people_with_role(s, role, dept), role, dept)
        if step.kind == "approve":
            out = [x for x in out if not self.own_request(run, x.userid)]
        seen: set[tuple[str, str]] = set()
        unique = []
        for x in out:
            if (x.group, x.userid) not in seen:
                seen.add((x.group, x.userid))
                unique.append(x)
        return unique

    own_request = staticmethod(authority.own_request)

    @staticmethod
    def _by_role(people: list[Person], role: str, dept: str) -> list[Assignment]:
        if role in OFFICE_ROLES:
            return [Assignment(dept, dept, p.userid) for p in people]
        return [Assignment(f"{dept}/{p.userid}", dept, p.userid) for p in people]

    # ----- moving through steps --------------------------------------------------
    async def _activate(self, s: AsyncSession, run: Run, index: int) -> None:
        steps = self.steps(run)
        while index < len(steps):
            run.step_index = index
            step = steps[index]
            assignments = await self.resolve(s, run, step)
            if not assignments:
                await self.audit(s, run, None, "system", "no_assignee", step.title)
                await self._tell_owner(s, run, "run/no_assignee.j2", step=step)
                index += 1
                continue
            now = self.core.clock()
            due = now + timedelta(days=step.deadline_days) if step.deadline_days is not None else None
            tasks = [Task(run_id=run.id, step_index=index, step_id=step.id, kind=step.kind, group=a.group,
                          department=a.department, assignee=a.userid, due_at=due, created_at=now,
                          status="done" if step.kind == "notice" else "open")
                     for a in assignments]
            s.add_all(tasks)
            await s.flush()
            from handlers.data import step_handler

            hook = step_handler(step.handler)
            if hook is not None:
                await hook.on_activate(self, s, run, step, tasks)
            if step.kind == "notice":
                await self._send_notice(s, run, step, tasks)
                if self.spec(run).notify_starter:
                    await self._tell_starter(s, run, "run/step_done_starter.j2", step=step)
                index += 1
                continue
            for t in tasks:
                await self.send_task_card(s, run, step, t)
            if self.spec(run).notify_starter and index > 0:
                await self._tell_starter(s, run, "run/step_waiting_starter.j2", step=step,
                                         assignees=await directory.names(s, [t.assignee for t in tasks]))
            return
        await self._finish(s, run, "done")

    async def _send_notice(self, s: AsyncSession, run: Run, step: Step, tasks: list[Task]) -> None:
        template = step.templates.get("notice", "task/notice.yaml.j2")
        values = await self._card_values(s, run, step, None)
        users = [t.assignee for t in tasks]

        def card(userid: str) -> OutboundMessage:
            link = self.record_url(run, userid)
            return self.core.renderer.card_message(template, **{**values, "record_url": link})

        msg = self.core.renderer.card_message(template, **values)
        if users and card(users[0]) != msg:  # it carries a record link, which names its person: one card each
            for userid in users:
                await outbox.enqueue(s, self.core.default_platform, [userid], card(userid))
            return
        await outbox.enqueue(s, self.core.default_platform, users, msg)

    async def send_task_card(self, s: AsyncSession, run: Run, step: Step, task: Task, *, reminder: bool = False) -> None:
        template = step.templates.get("card", f"task/{step.kind}.yaml.j2")
        values = await self._card_values(s, run, step, task)
        msg = self.core.renderer.card_message(template, reminder=reminder, **values)
        await outbox.enqueue(s, self.core.default_platform, [task.assignee], msg)

    async def _card_values(self, s: AsyncSession, run: Run, step: Step, task: Task | None) -> dict:
        starter = await s.get(Person, run.started_by)
        spec = self.spec(run)
        history = await self.approvals(s, run)
        values = dict(run=run, spec=spec, step=step, task=task, starter=starter, history=history,
                      summary=run.data.get("summary", []), upload_url=self.upload_url(task) if task else "",
                      record_url=self.record_url(run, task.assignee) if task else "")
        from handlers.data import step_handler

        hook = step_handler(step.handler)
        if hook is not None and task is not None:
            values.update(await hook.card_values(self, s, run, step, task))
        return values

    def upload_url(self, task: Task) -> str:
        from bot.links import signed_task_link

        return signed_task_link(self.core.settings, "upload", task.id, task.assignee)

    def record_url(self, run: Run, userid: str) -> str:
        from bot.links import signed_run_link

        return signed_run_link(self.core.settings, "record", run.id, userid)

    async def _step_complete(self, s: AsyncSession, run: Run, index: int, step: Step) -> bool:
        tasks = (await s.execute(select(Task).where(Task.run_id == run.id, Task.step_index == index))).scalars().all()
        groups: dict[str, bool] = {}
        for t in tasks:
            if t.status in ("cancelled",):
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
            from handlers.data import step_handler

            hook = step_handler(step.handler)
            if hook is not None:
                await hook.on_complete(self, s, run, step)
            if self.spec(run).notify_starter:
                await self._tell_starter(s, run, "run/step_done_starter.j2", step=step)
            await self._activate(s, run, task.step_index + 1)

    async def _finish(self, s: AsyncSession, run: Run, status: str, reason: str = "") -> None:
        run.status = status
        run.finished_at = self.core.clock()
        await s.execute(update(Task).where(Task.run_id == run.id, Task.status == "open").values(status="cancelled"))
        await self.audit(s, run, None, "system", status, reason)
        if status == "done":
            spec = self.spec(run)
            targets = {run.started_by, run.owner_userid} - {""}
            msg = self.core.renderer.text_message("run/done.j2", run=run, spec=spec)
            await outbox.enqueue(s, self.core.default_platform, targets, msg)

    # ----- decisions -------------------------------------------------------------
    async def check(self, s: AsyncSession, task_id: int, actor: Person, action: str) -> Decision:
        """May ``actor`` take ``action`` on the task now? Re-checked on every decision."""
        task = await s.get(Task, task_id)
        if task is None:
            return Decision("missing")
        run = await s.get(Run, task.run_id)
        if run.code not in self.core.specs:  # a 通知 has its own buttons
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
        decision = await self.check(s, task_id, actor, action)
        if decision.outcome != "ok":
            return decision
        task, run = decision.task, decision.run
        new_status = ACTIONS[task.kind][action]
        now = self.core.clock()
        payload = dict(result or {})
        payload["action"] = action
        res = await s.execute(
            update(Task).where(Task.id == task.id, Task.status == "open")
            .values(status=new_status, acted_by=actor.userid, acted_at=now, result=payload)
            .execution_options(synchronize_session=False)
        )
        if res.rowcount != 1:  # someone (or a double tap) got there first
            return Decision("stale", task, run)
        await s.refresh(task)
        await self.audit(s, run, task, actor.userid, action, payload.get("reason", ""))
        from handlers.data import step_handler

        step = self.steps(run)[task.step_index]
        hook = step_handler(step.handler)
        if hook is not None and new_status != "rejected":
            await hook.on_task_done(self, s, run, step, task)
        if new_status == "rejected":
            await self._finish(s, run, "rejected", payload.get("reason", ""))
            await self._tell_starter(s, run, "run/rejected_starter.j2", step=step, actor=actor,
                                     reason=payload.get("reason", ""), force=True)
        else:
            await self._after_progress(s, run, task)
        return Decision("ok", task, run)

    async def withdraw(self, s: AsyncSession, run: Run, actor: Person) -> str:
        """撤回 by the starter while the run is still open."""
        if run.started_by != actor.userid:
            return "forbidden"
        if run.status != "open":
            return "stale"
        waiting = (await s.execute(select(Task.assignee).where(Task.run_id == run.id, Task.status == "open"))).scalars().all()
        res = await s.execute(update(Run).where(Run.id == run.id, Run.status == "open")
                              .values(status="cancelled", finished_at=self.core.clock())
                              .execution_options(synchronize_session=False))
        if res.rowcount != 1:
            return "stale"
        await s.refresh(run)
        await s.execute(update(Task).where(Task.run_id == run.id, Task.status == "open").values(status="cancelled"))
        await self.audit(s, run, None, actor.userid, "withdraw", "")
        if waiting:
            msg = self.core.renderer.text_message("run/withdrawn_assignee.j2", run=run, starter=actor)
            await outbox.enqueue(s, self.core.default_platform, waiting, msg)
        return "ok"

    async def remind(self, s: AsyncSession, run: Run, actor: Person | None = None) -> list[Task]:
        """催办: send the card again to everyone still open on the current step."""
        open_tasks = (await s.execute(select(Task).where(Task.run_id == run.id, Task.status == "open")
                                      .order_by(Task.id))).scalars().all()
        steps = self.steps(run)
        for t in open_tasks:
            await self.send_task_card(s, run, steps[t.step_index], t, reminder=True)
        await self.audit(s, run, None, actor.userid if actor else "system", "remind", str(len(open_tasks)))
        return list(open_tasks)

    async def skip_step(self, s: AsyncSession, run: Run, actor: Person, reason: str) -> Step | None:
        """跳过 the current step: the owner's call, never an approval's (raises EngineError)."""
        step = self.current_step(run)
        await self._enforce(s, authority.may_skip(run, step, actor))
        if step is None or run.status != "open":
            return None
        await s.execute(update(Task).where(Task.run_id == run.id, Task.step_index == run.step_index,
                                           Task.status == "open").values(status="skipped", acted_by=actor.userid))
        await self.audit(s, run, None, actor.userid, "skip", f"{step.title}：{reason}")
        from handlers.data import step_handler

        hook = step_handler(step.handler)
        if hook is not None:  # a skipped step is over too: 教务处 still gets what came in
            await hook.on_complete(self, s, run, step)
        await self._activate(s, run, run.step_index + 1)
        return step

    async def close(self, s: AsyncSession, run: Run, actor: Person, reason: str) -> None:
        """办结: the owner closes an open run early (raises EngineError when not allowed)."""
        waiting = (await s.execute(select(Task.id).where(Task.run_id == run.id, Task.status == "open",
                                                         Task.kind == "approve"))).all()
        await self._enforce(s, authority.may_close(run, len(waiting), actor))
        await self.audit(s, run, None, actor.userid, "close", reason)
        await self._finish(s, run, "done", reason)

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
        old = await s.get(Person, old_userid)
        values = dict(run=run, step=step, task=task, actor=actor, old=old, new=new, reason=reason)
        platform = self.core.default_platform
        await outbox.enqueue(s, platform, [old_userid], self.core.renderer.text_message("run/reassigned_old.j2", **values))
        await outbox.enqueue(s, platform, [new.userid], self.core.renderer.text_message("run/reassigned_new.j2", **values))
        await self.send_task_card(s, run, step, task)
        return True

    # ----- reading ----------------------------------------------------------------
    async def approvals(self, s: AsyncSession, run: Run) -> list[dict]:
        """Who decided what and when, for records and cards."""
        rows = (await s.execute(select(Task).where(Task.run_id == run.id, Task.acted_by != "",
                                                   Task.status.in_(("done", "rejected")))
                                .order_by(Task.acted_at, Task.id))).scalars().all()
        who = await directory.names(s, [t.acted_by for t in rows])
        steps = self.steps(run)
        return [dict(step=steps[t.step_index].title, kind=t.kind, name=who.get(t.acted_by, t.acted_by),
                     action=t.result.get("action", ""), reason=t.result.get("reason", ""), at=t.acted_at)
                for t in rows]

    async def progress(self, s: AsyncSession, run: Run) -> list[dict]:
        """Every step with each group's state (done / open / overdue / rejected) and open task ids."""
        tasks = (await s.execute(select(Task).where(Task.run_id == run.id).order_by(Task.id))).scalars().all()
        who = await directory.names(s, [t.assignee for t in tasks])
        now = self.core.clock()
        out = []
        for i, step in enumerate(self.steps(run)):
            groups: dict[str, dict] = {}
            for t in (t for t in tasks if t.step_index == i):
                g = groups.setdefault(t.group, {"department": t.department or t.group, "person": "",
                                                "people": [], "state": "open", "open_ids": []})
                if t.group.endswith("/" + t.assignee):  # an individual duty: show the person
                    g["person"] = who.get(t.assignee, t.assignee)
                g["people"].append(who.get(t.assignee, t.assignee))
                if t.status in CLOSED:
                    g["state"] = "done"
                elif t.status == "rejected":
                    g["state"] = "rejected"
                elif t.status == "open":
                    g["open_ids"].append(t.id)
                    if t.due_at and t.due_at < now and g["state"] == "open":
                        g["state"] = "overdue"
            if i < run.step_index or (i == run.step_index and run.status == "done"):
                state = "done"
            elif i == run.step_index:
                state = "active" if run.status == "open" else run.status  # rejected | cancelled
            else:
                state = "pending"
            out.append(dict(index=i + 1, step=step, state=state, groups=list(groups.values())))
        return out

    async def open_tasks(self, s: AsyncSession, userid: str) -> list[tuple[Task, Run]]:
        rows = (await s.execute(select(Task, Run).join(Run, Run.id == Task.run_id)
                                .where(Task.assignee == userid, Task.status == "open", Run.status == "open",
                                       Run.code != "notice")
                                .order_by(Task.id))).all()
        return [(t, r) for t, r in rows]

    # ----- small helpers ------------------------------------------------------------
    @staticmethod
    async def _enforce(s: AsyncSession, refusal: "authority.Refusal | None") -> None:
        if refusal is not None:
            raise EngineError(refusal.template, **await authority.explain(s, refusal))

    async def audit(self, s: AsyncSession, run: Run | None, task: Task | None, actor: str, action: str, detail: str) -> None:
        s.add(AuditEntry(run_id=run.id if run else None, task_id=task.id if task else None, actor=actor,
                         action=action, detail=detail, at=self.core.clock()))

    async def _tell_starter(self, s: AsyncSession, run: Run, template: str, force: bool = False, **values) -> None:
        if not (force or self.spec(run).notify_starter):
            return
        msg = self.core.renderer.text_message(template, run=run, spec=self.spec(run), **values)
        await outbox.enqueue(s, self.core.default_platform, [run.started_by], msg)

    async def _tell_owner(self, s: AsyncSession, run: Run, template: str, **values) -> None:
        targets = [run.owner_userid] if run.owner_userid else [p.userid for p in await directory.people_with_role(s, "教务处")]
        msg = self.core.renderer.text_message(template, run=run, spec=self.spec(run), **values)
        await outbox.enqueue(s, self.core.default_platform, targets, msg)

    def card_update(self, task_card_id: str, response_code: str, action: str) -> OutboundMessage:
        return OutboundMessage(kind="card_update", card_task_id=task_card_id, response_code=response_code,
                               replace_name=self.core.renderer.text("task/replace_name.j2", action=action))
