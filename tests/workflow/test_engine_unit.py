"""The workflow engine on its own: a real SQLite database, small specs written here, and a
Notifier that records what the engine asked to tell whom (the Notifier is the engine's
interface to the runtime, so recording it is the engine's whole output besides the rows).

Covers the join (all / any, one task per 系部 group), decisions by compare-and-set,
驳回, 撤回 and 转派, and the step hooks' order.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import pytest
from sqlalchemy import select

from bot.db import Database
from models import AuditEntry, Person, Run, Task
from workflow.engine import Engine, EngineError
from workflow.hooks import BaseStepHook, HookRegistry
from workflow.spec import WorkflowSpec

NOW = datetime(2026, 10, 12, 9, 0)
WINDOW = {"kind": "fixed", "label": "测试", "ranges": [{"label": "测试", "start": "09-01", "end": "09-30"}]}
PEOPLE = [  # userid, name, department, roles
    ("office1", "王老师", "教务处", "教务处"),
    ("office2", "李老师", "教务处", "教务处"),
    ("leader", "赵领导", "教务处", "教务处分管领导"),
    ("sec_a", "机电秘书甲", "机电工程系", "教学秘书"),
    ("sec_a2", "机电秘书乙", "机电工程系", "教学秘书"),
    ("head_a", "机电主任", "机电工程系", "系部主任"),
    ("sec_b", "经管秘书", "经济管理系", "教学秘书"),
    ("head_b", "经管主任", "经济管理系", "系部主任"),
    ("teacher_b", "经管教师", "经济管理系", "任课教师"),
]


def _spec(code: str, *steps: dict, starters=("教务处",), notify_starter=False) -> WorkflowSpec:
    return WorkflowSpec.model_validate(dict(code=code, name=f"测试{code}", category="教学运行", windows=[WINDOW],
                                            starters=list(starters), notify_starter=notify_starter,
                                            steps=list(steps)))


def _step(id: str, kind: str, *assignees: dict, join: str = "all", handler: str | None = None) -> dict:
    return dict(id=id, title=f"步骤{id}", label=f"步骤{id}"[:10], owner="测试", kind=kind, assignees=list(assignees), join=join,
                handler=handler)


SPECS = {s.code: s for s in [
    # every 系部 confirms (all), then the leader approves
    _spec("9.1", _step("confirm", "confirm", {"party": "系部"}), _step("sign", "approve", {"party": "分管领导"})),
    # the first 系部 to finish closes the step, then 教务处 has a task
    _spec("9.2", _step("first", "task", {"party": "系部"}, join="any"), _step("file", "task", {"party": "教务处"})),
    # a teacher asks, their 系部主任 approves, then 教务处 approves
    _spec("9.3", _step("head", "approve", {"party": "发起人", "role": "系部主任"}),
          _step("office", "approve", {"party": "教务处"}), starters=("任课教师",), notify_starter=True),
    # a step with a hook, then 教务处
    _spec("9.4", _step("hooked", "task", {"party": "系部"}, handler="recorder"), _step("end", "task", {"party": "教务处"})),
]}


@dataclass
class Told:
    how: str  # text | card
    userids: tuple[str, ...]
    template: str
    values: dict


@dataclass
class RecordingNotifier:
    """Implements workflow.notify.Notifier by remembering each call."""
    told: list[Told] = field(default_factory=list)

    async def text(self, s, userids, template, values) -> list[str]:
        self.told.append(Told("text", tuple(userids), template, dict(values)))
        return list(dict.fromkeys(userids))

    async def card(self, s, userids, template, values, *, run, task=None) -> list[str]:
        assert values["run"] is run and (task is None or values["task"] is task)
        self.told.append(Told("card", tuple(userids), template, dict(values)))
        return list(dict.fromkeys(userids))

    async def settle(self, s, run) -> None:
        self.told.append(Told("settle", (), "", {"run": run}))

    def to(self, userid: str) -> list[Told]:
        return [t for t in self.told if userid in t.userids]

    def templates_to(self, userid: str) -> list[str]:
        return [t.template for t in self.to(userid)]


class RecorderHook(BaseStepHook):
    def __init__(self):
        self.calls: list[str] = []

    async def on_activate(self, engine, s, run, step, tasks) -> None:
        self.calls.append(f"activate:{len(tasks)}")

    async def on_task_done(self, engine, s, run, step, task) -> None:
        self.calls.append(f"done:{task.assignee}")

    async def on_complete(self, engine, s, run, step) -> None:
        self.calls.append("complete")

    async def card_values(self, engine, s, run, step, task) -> dict:
        return {"extra": f"for {task.assignee}"}


@pytest.fixture
async def db(tmp_path):
    database = Database(f"sqlite+aiosqlite:///{tmp_path}/engine.db")
    await database.upgrade()
    async with database.session() as s:
        s.add_all([Person(userid=u, name=n, department=d, roles_text=r) for u, n, d, r in PEOPLE])
    yield database
    await database.dispose()


@pytest.fixture
def hook() -> RecorderHook:
    return RecorderHook()


@pytest.fixture
def notifier() -> RecordingNotifier:
    return RecordingNotifier()


@pytest.fixture
def engine(notifier, hook) -> Engine:
    return Engine(specs=SPECS, clock=lambda: NOW, notifier=notifier, hooks=HookRegistry({"recorder": hook}))


async def _start(db, engine, code: str, starter: str) -> int:
    async with db.session() as s:
        run = await engine.start_run(s, SPECS[code], await s.get(Person, starter))
        return run.id


async def _tasks(db, run_id: int) -> dict[str, tuple[str, int, str]]:
    """assignee → (status, step index, group), for every task of the run."""
    async with db.session() as s:
        rows = (await s.execute(select(Task).where(Task.run_id == run_id).order_by(Task.id))).scalars().all()
        return {t.assignee: (t.status, t.step_index, t.group) for t in rows}


async def _task_id_in(s, run_id: int, assignee: str) -> int:
    return (await s.execute(select(Task.id).where(Task.run_id == run_id, Task.assignee == assignee)
                            .order_by(Task.id.desc()))).scalars().first()


async def act(db, engine, run_id: int, who: str, action: str, **result) -> str:
    async with db.session() as s:
        task_id = await _task_id_in(s, run_id, who)
        return (await engine.act(s, task_id, await s.get(Person, who), action, result or None)).outcome


# ----- fan-out and the join -----------------------------------------------------------------------------
async def test_a_step_fans_out_per_department_and_waits_for_every_group(db, engine, notifier):
    run_id = await _start(db, engine, "9.1", "office1")
    tasks = await _tasks(db, run_id)
    assert tasks == {"sec_a": ("open", 0, "机电工程系"), "sec_a2": ("open", 0, "机电工程系"),
                     "sec_b": ("open", 0, "经济管理系")}
    assert [t.userids for t in notifier.told if t.how == "card"] == [("sec_a",), ("sec_a2",), ("sec_b",)]
    assert notifier.told[0].template == "task/confirm.yaml.j2" and notifier.told[0].values["reminder"] is False

    assert await act(db, engine, run_id, "sec_a", "confirm") == "ok"
    tasks = await _tasks(db, run_id)
    assert tasks["sec_a"][0] == "done" and tasks["sec_a2"][0] == "superseded"  # one secretary closes the 系部
    assert tasks["sec_b"][0] == "open" and "leader" not in tasks  # the join waits for 经济管理系
    assert await act(db, engine, run_id, "sec_a2", "confirm") == "stale"

    assert await act(db, engine, run_id, "sec_b", "dispute", reason="名单有误") == "ok"
    tasks = await _tasks(db, run_id)
    assert tasks["leader"] == ("open", 1, "分管领导")
    assert notifier.to("leader")[-1].template == "task/approve.yaml.j2"
    assert notifier.to("leader")[-1].values["history"][-1]["reason"] == "名单有误"

    assert await act(db, engine, run_id, "leader", "approve") == "ok"
    async with db.session() as s:
        run = await s.get(Run, run_id)
        assert run.status == "done" and run.finished_at == NOW and run.record_no == "9.1-2026-0001"
    assert notifier.templates_to("office1") == ["run/done.j2"]


async def test_join_any_lets_the_first_group_close_the_step(db, engine, notifier):
    run_id = await _start(db, engine, "9.2", "office2")
    assert await act(db, engine, run_id, "sec_b", "done") == "ok"
    tasks = await _tasks(db, run_id)
    assert tasks["sec_b"][0] == "done"
    assert tasks["sec_a"][0] == tasks["sec_a2"][0] == "superseded"
    assert tasks["office2"] == ("open", 1, "教务处")  # the starter in 教务处 owns the run and does its step
    assert "office1" not in tasks


async def test_nobody_approves_their_own_request_and_the_starter_hears_each_decision(db, engine, notifier):
    async with db.session() as s:
        head = await s.get(Person, "head_b")
        head.roles_text = "系部主任;任课教师"
    run_id = await _start(db, engine, "9.3", "head_b")  # the head asks: their own approval is skipped
    tasks = await _tasks(db, run_id)
    assert "head_b" not in tasks
    assert {u for u, (status, index, _) in tasks.items() if status == "open"} == {"office1", "office2"}
    assert ("text", ("office1", "office2"), "run/no_assignee.j2") in [(t.how, t.userids, t.template) for t in notifier.told]
    assert notifier.templates_to("head_b") == []  # no message per step: only decisions reach the starter
    assert await act(db, engine, run_id, "office1", "approve") == "ok"
    assert notifier.templates_to("head_b") == ["run/step_done_starter.j2", "run/done.j2"]
    done = notifier.to("head_b")[-1]
    assert done.values["standards"] is False  # the 工作标准 checklist is not the starter's
    assert [(t.template, t.values["standards"]) for t in notifier.to("office1") if t.template == "run/done.j2"] == \
        [("run/done.j2", True)]  # the 教务处 person who acted is accountable for the run


async def test_each_workflow_numbers_its_own_runs(db, engine, notifier):
    ids = [await _start(db, engine, code, "office1") for code in ("9.2", "9.4", "9.2")]
    async with db.session() as s:
        numbers = [(await s.get(Run, i)).record_no for i in ids]
    assert numbers == ["9.2-2026-0001", "9.4-2026-0001", "9.2-2026-0002"]


# ----- decisions: compare-and-set and 驳回 ---------------------------------------------------------------
async def test_a_decision_is_compare_and_set_across_sessions(db, engine, notifier):
    run_id = await _start(db, engine, "9.3", "teacher_b")
    async with db.session() as s:
        task_id = await _task_id_in(s, run_id, "head_b")
    # Two taps read the open task before either writes: the database decides, once.
    first, second = db.sessions(), db.sessions()
    try:
        head_1 = await first.get(Person, "head_b")
        head_2 = await second.get(Person, "head_b")
        assert (await engine.check(first, task_id, head_1, "approve")).outcome == "ok"
        assert (await engine.check(second, task_id, head_2, "approve")).outcome == "ok"
        assert (await engine.act(first, task_id, head_1, "approve")).outcome == "ok"
        await first.commit()
        assert (await engine.act(second, task_id, head_2, "reject", {"reason": "晚了"})).outcome == "stale"
        await second.commit()
    finally:
        await first.close()
        await second.close()
    async with db.session() as s:
        task = await s.get(Task, task_id)
        assert task.status == "done" and task.result == {"action": "approve"}
        audits = (await s.execute(select(AuditEntry.action).where(AuditEntry.task_id == task_id))).scalars().all()
        assert audits == ["approve"]
    assert (await _tasks(db, run_id))["office1"][1] == 1  # the run moved on exactly once


async def test_checks_refuse_the_wrong_person_action_and_task(db, engine):
    run_id = await _start(db, engine, "9.3", "teacher_b")
    async with db.session() as s:
        task_id = await _task_id_in(s, run_id, "head_b")
        head, other = await s.get(Person, "head_b"), await s.get(Person, "head_a")
        assert (await engine.check(s, task_id, other, "approve")).outcome == "forbidden"
        assert (await engine.check(s, task_id, head, "done")).outcome == "bad_action"
        assert (await engine.check(s, 99999, head, "approve")).outcome == "missing"
    with pytest.raises(EngineError) as refused:
        async with db.session() as s:
            await engine.start_run(s, SPECS["9.1"], await s.get(Person, "teacher_b"))
    assert refused.value.template == "errors/cannot_start.j2"


async def test_a_rejection_ends_the_run_and_tells_the_starter(db, engine, notifier):
    run_id = await _start(db, engine, "9.3", "teacher_b")
    assert await act(db, engine, run_id, "head_b", "reject", reason="课时冲突") == "ok"
    async with db.session() as s:
        assert (await s.get(Run, run_id)).status == "rejected"
    told = notifier.to("teacher_b")[-1]
    assert told.template == "run/rejected_starter.j2" and told.values["reason"] == "课时冲突"
    assert "office1" not in await _tasks(db, run_id)  # the run never reached 教务处


# ----- 撤回 ------------------------------------------------------------------------------------------------
async def test_only_the_starter_withdraws_an_open_run_once(db, engine, notifier):
    run_id = await _start(db, engine, "9.1", "office1")
    async with db.session() as s:
        run = await s.get(Run, run_id)
        assert await engine.withdraw(s, run, await s.get(Person, "office2")) == "forbidden"
        assert await engine.withdraw(s, run, await s.get(Person, "office1")) == "ok"
        assert await engine.withdraw(s, run, await s.get(Person, "office1")) == "stale"
    tasks = await _tasks(db, run_id)
    assert {status for status, _, _ in tasks.values()} == {"cancelled"}
    withdrawn = [t for t in notifier.told if t.template == "run/withdrawn_assignee.j2"]
    assert len(withdrawn) == 1 and set(withdrawn[0].userids) == {"sec_a", "sec_a2", "sec_b"}
    assert await act(db, engine, run_id, "sec_a", "confirm") == "stale"


# ----- 转派 ------------------------------------------------------------------------------------------------
async def test_the_owner_reassigns_a_task_within_the_same_department(db, engine, notifier):
    run_id = await _start(db, engine, "9.1", "office1")
    async with db.session() as s:
        task = await s.get(Task, await _task_id_in(s, run_id, "sec_b"))
        owner, head_b = await s.get(Person, "office1"), await s.get(Person, "head_b")
        assert await engine.reassign(s, task, head_b, owner, "秘书出差")
    tasks = await _tasks(db, run_id)
    assert tasks["head_b"] == ("open", 0, "经济管理系") and "sec_b" not in tasks
    assert notifier.templates_to("sec_b")[-1] == "run/reassigned_old.j2"
    assert notifier.templates_to("head_b") == ["run/reassigned_new.j2", "task/confirm.yaml.j2"]
    assert await act(db, engine, run_id, "head_b", "confirm") == "ok"


@pytest.mark.parametrize("actor, new, template", [
    ("office2", "head_b", "errors/not_owner.j2"),          # not the run's owner
    ("office1", "head_a", "errors/reassign_no_role.j2"),   # another 系部
    ("office1", "teacher_b", "errors/reassign_no_role.j2"),  # not a secretary or head
    ("office1", "sec_b", "errors/reassign_same.j2"),
])
async def test_reassigning_is_refused_with_a_reason(db, engine, actor, new, template):
    run_id = await _start(db, engine, "9.1", "office1")
    with pytest.raises(EngineError) as refused:
        async with db.session() as s:
            task = await s.get(Task, await _task_id_in(s, run_id, "sec_b"))
            await engine.reassign(s, task, await s.get(Person, new), await s.get(Person, actor), "因为")
    assert refused.value.template == template
    assert (await _tasks(db, run_id))["sec_b"][0] == "open"


async def test_an_approval_is_never_reassigned_or_skipped(db, engine):
    run_id = await _start(db, engine, "9.3", "teacher_b")
    async with db.session() as s:
        run = await s.get(Run, run_id)
        task = await s.get(Task, await _task_id_in(s, run_id, "head_b"))
        clerk = await s.get(Person, "office1")
        with pytest.raises(EngineError) as refused:
            await engine.reassign(s, task, await s.get(Person, "head_a"), clerk, "因为")
        assert refused.value.template == "errors/reassign_approval.j2"
        with pytest.raises(EngineError) as refused:
            await engine.skip_step(s, run, clerk, "因为")
        assert refused.value.template == "errors/skip_approval.j2"


# ----- hooks ---------------------------------------------------------------------------------------------
async def test_step_hooks_run_in_order_and_add_card_values(db, engine, notifier, hook):
    run_id = await _start(db, engine, "9.4", "office1")
    assert hook.calls == ["activate:3"]
    assert notifier.to("sec_b")[0].values["extra"] == "for sec_b"
    assert await act(db, engine, run_id, "sec_a", "done") == "ok"
    assert await act(db, engine, run_id, "sec_b", "done") == "ok"
    assert hook.calls == ["activate:3", "done:sec_a", "done:sec_b", "complete"]
    assert (await _tasks(db, run_id))["office1"] == ("open", 1, "教务处")
