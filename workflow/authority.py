"""Who may steer a run: authority follows the workflow, not the office.

Every run has an accountable owner: the office named by the spec's ``owner``
(``Run.owner_role``, 教务处) and, when one of its staff started the run, that
person (``Run.owner_userid``). A run a teacher or a 系部 started belongs to the
office as a whole. The owner may 跳过 a step and 转派 a task, but an approval is
a signature: nobody skips one, and only the office's own approvals (a step whose
approver is 教务处) may be handed to a colleague. A 系部主任's or 分管领导's
approval belongs to its approver alone.

Each check returns ``None`` when allowed, or a :class:`Refusal` naming the
template that tells the person why, in their voice.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from workflow.spec import Step
from models import Person, Run, Task

# Roles that act for their whole 系部 (one of them closes its task).
OFFICE_ROLES = {"教学秘书", "系部主任"}
LEADER_ROLE = "教务处分管领导"


@dataclass
class Refusal:
    template: str
    values: dict = field(default_factory=dict)


def own_request(run: Run, userid: str) -> bool:
    """Nobody approves their own request; a run 教务处 starts for its own work is not one."""
    return userid == run.started_by and run.started_by != run.owner_userid


def is_owner(run: Run, person: Person) -> bool:
    """The run's accountable owner: its staff owner, else anyone in the owning office."""
    if run.owner_userid:
        return person.userid == run.owner_userid
    return person.has_role(run.owner_role or "教务处")


def may_see_files(run: Run, person: Person | None) -> bool:
    """Every file uploaded in a run: whoever started it, its owner, 教务处 and the 分管领导."""
    if person is None:
        return False
    return person.userid == run.started_by or is_owner(run, person) or person.has_role("教务处", LEADER_ROLE)


def office_approval(run: Run, step: Step) -> bool:
    """An approval the owning office gives itself (every approver is party 教务处)."""
    return step.kind == "approve" and (run.owner_role or "教务处") == "教务处" and \
        all(a.party == "教务处" for a in step.assignees)


def may_skip(run: Run, step: Step | None, person: Person) -> Refusal | None:
    if not is_owner(run, person):
        return Refusal("errors/not_owner.j2", {"run": run})
    if step is not None and step.kind == "approve":
        return Refusal("errors/skip_approval.j2", {"run": run, "step": step})
    return None


def may_close(run: Run, open_approvals: int, person: Person) -> Refusal | None:
    """办结 is the owner's call; never over an approval still waiting (it would look signed)."""
    if run.status != "open":
        return Refusal("errors/already_done.j2", {"run": run})
    if not is_owner(run, person):
        return Refusal("errors/not_owner.j2", {"run": run})
    if open_approvals:
        return Refusal("errors/close_approval.j2", {"run": run})
    return None


def may_reassign(run: Run, step: Step, task: Task, actor: Person, new: Person) -> Refusal | None:
    if run.status != "open" or task.status != "open":
        return Refusal("errors/already_done.j2", {"run": run})
    if not is_owner(run, actor):
        return Refusal("errors/not_owner.j2", {"run": run})
    if step.kind == "approve" and not office_approval(run, step):
        return Refusal("errors/reassign_approval.j2", {"run": run, "step": step})
    if new.userid == task.assignee:
        return Refusal("errors/reassign_same.j2", {"new": new, "step": step})
    if step.kind == "approve" and own_request(run, new.userid):
        return Refusal("errors/reassign_requester.j2", {"new": new, "step": step})
    if not holds_step_role(step, task, new):
        return Refusal("errors/reassign_no_role.j2", {"new": new, "step": step, "role": step_role_label(step, task)})
    return None


def holds_step_role(step: Step, task: Task, person: Person) -> bool:
    """Does ``person`` hold the role this task was given for, for the same party (same 系部)?"""
    if task.group == "教务处":
        return person.has_role("教务处")
    if task.group == "分管领导":
        return person.has_role(LEADER_ROLE)
    if task.group in ("发起人", "代课教师"):
        return False  # the requester's own duty, or the named substitute's: nobody else holds it
    for a in step.assignees:
        if a.party in ("教务处", "分管领导") or (a.party == "发起人" and a.role is None):
            continue
        role = a.role or "教学秘书"
        # 教学秘书 and 系部主任 both act for their 系部, except where a signature is asked.
        roles = OFFICE_ROLES if role in OFFICE_ROLES and step.kind != "approve" else {role}
        if person.has_role(*roles) and person.department == task.department:
            return True
    return False


def step_role_label(step: Step, task: Task) -> str:
    """The role a task needs, as a person reads it: 教务处, 教务处分管领导, 机电工程系的教学秘书."""
    if task.group == "教务处":
        return "教务处"
    if task.group == "分管领导":
        return LEADER_ROLE
    if task.group == "代课教师":
        return "申请中指定的代课教师本人"
    for a in step.assignees:
        if a.party in ("系部", "通识教育部") or (a.party == "发起人" and a.role):
            role = a.role or "教学秘书"
            if role in OFFICE_ROLES and step.kind != "approve":
                role = "教学秘书或系部主任"
            return f"{task.department}的{role}"
    return "发起人本人"


async def explain(s: AsyncSession, refusal: Refusal) -> dict:
    """The refusal's template values, naming the run's owner where ownership is the reason."""
    values = dict(refusal.values)
    run = values.get("run")
    if refusal.template == "errors/not_owner.j2" and run is not None:
        owner = await s.get(Person, run.owner_userid) if run.owner_userid else None
        values["owner_name"] = owner.name if owner else ""
    return values
