"""Who gets a step's tasks: the spec's assignees resolved against the directory.

A 系部 role that acts for the whole 系部 (教学秘书, 系部主任) shares one group per
系部, so one of them closes it; any other role gets a group per person. Nobody is
asked to approve their own request.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from models import Person, Run
from workflow.authority import LEADER_ROLE, OFFICE_ROLES, own_request
from workflow.people import people_with_role
from workflow.spec import Assignee, Step


@dataclass(frozen=True)
class Assignment:
    group: str
    department: str
    userid: str


async def resolve(s: AsyncSession, run: Run, step: Step) -> list[Assignment]:
    """Every (group, person) the step asks, without repeats, in the spec's order."""
    starter = await s.get(Person, run.started_by)
    out: list[Assignment] = []
    for a in step.assignees:
        out += await _for_assignee(s, run, a, starter)
    if step.kind == "approve":
        out = [x for x in out if not own_request(run, x.userid)]
    unique: dict[tuple[str, str], Assignment] = {}
    for x in out:
        unique.setdefault((x.group, x.userid), x)
    return list(unique.values())


async def resolve_people(s: AsyncSession, run: Run, assignees: list[Assignee]) -> list[str]:
    """The people these assignees name for ``run``, each once (e.g. whom a 驳回 is told)."""
    starter = await s.get(Person, run.started_by)
    found: list[str] = []
    for a in assignees:
        found += [x.userid for x in await _for_assignee(s, run, a, starter)]
    return list(dict.fromkeys(found))


async def _for_assignee(s: AsyncSession, run: Run, a: Assignee, starter: Person | None) -> list[Assignment]:
    if a.party == "教务处":
        if run.owner_userid:
            return [Assignment("教务处", "教务处", run.owner_userid)]
        return [Assignment("教务处", "教务处", p.userid) for p in await people_with_role(s, "教务处")]
    if a.party == "分管领导":
        return [Assignment("分管领导", p.department, p.userid) for p in await people_with_role(s, LEADER_ROLE)]
    if a.party == "代课教师":
        named = await named_person(s, run, a.answer or "")
        return [Assignment("代课教师", named.department, named.userid)] if named else []
    dept_of_starter = starter.department if starter else ""
    if a.party == "发起人":
        if a.role is None:
            return [Assignment("发起人", dept_of_starter, run.started_by)]
        return by_role(await people_with_role(s, a.role, dept_of_starter), a.role, dept_of_starter)
    role = a.role or "教学秘书"
    if a.party == "通识教育部":
        depts = ["通识教育部"]
    elif a.scope == "starter":
        depts = [dept_of_starter] if starter else []
    elif a.scope == "subject":
        depts = [run.subject_department] if run.subject_department else []
    else:
        depts = list(run.departments)
    out: list[Assignment] = []
    for dept in depts:
        out += by_role(await people_with_role(s, role, dept), role, dept)
    return out


async def named_person(s: AsyncSession, run: Run, answer: str) -> Person | None:
    """The directory person a start-form answer names ({userid, name, …}), if still there."""
    value = (run.data.get("form") or {}).get(answer) or {}
    userid = value.get("userid") if isinstance(value, dict) else None
    return await s.get(Person, userid) if userid else None


def by_role(people: list[Person], role: str, dept: str) -> list[Assignment]:
    """One group for the 系部 when the role acts for it, else one group per person."""
    if role in OFFICE_ROLES:
        return [Assignment(dept, dept, p.userid) for p in people]
    return [Assignment(f"{dept}/{p.userid}", dept, p.userid) for p in people]
