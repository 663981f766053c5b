"""The directory queries the engine needs: people by role and 系部, and their names.

They read ``models.Person`` only, so the engine finds who does a step without the
runtime; ``bot/directory.py`` (import, lookup by name) re-exports them.
"""
from __future__ import annotations

from typing import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models import GENERAL_DEPARTMENT, OFFICE_DEPARTMENT, Person, Run, Task


async def people_with_role(s: AsyncSession, role: str, department: str | None = None) -> list[Person]:
    """Active people only: someone who left gets no tasks."""
    q = select(Person).where(Person.roles_text.contains(role), Person.active.is_(True)).order_by(Person.userid)
    if department is not None:
        q = q.where(Person.department == department)
    return [p for p in (await s.execute(q)).scalars() if role in p.roles]


async def teaching_departments(s: AsyncSession) -> list[str]:
    """The 系部 a 系部 step fans out to: every department but 教务处. 通识教育部 teaches too
    (its teachers' 课时, its 教学秘书's sheets), so it is one of them, listed after the 系."""
    names = (await s.execute(select(Person.department).where(Person.active.is_(True)).distinct())).scalars().all()
    return sorted((d for d in names if d and d != OFFICE_DEPARTMENT), key=lambda d: (d == GENERAL_DEPARTMENT, d))


async def names(s: AsyncSession, userids: Iterable[str]) -> dict[str, str]:
    ids = list(set(userids))
    if not ids:
        return {}
    rows = (await s.execute(select(Person.userid, Person.name).where(Person.userid.in_(ids)))).all()
    return {u: n for u, n in rows}


async def run_owners(s: AsyncSession, run: Run) -> list[str]:
    """Who is accountable for the run: its owner, else those of the owning office who worked on it."""
    if run.owner_userid:
        return [run.owner_userid]
    acted = set((await s.execute(select(Task.acted_by).where(Task.run_id == run.id, Task.acted_by != "")))
                .scalars())
    return sorted(p.userid for p in await people_with_role(s, run.owner_role) if p.userid in acted)
