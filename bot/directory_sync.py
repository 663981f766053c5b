"""``campusbot directory sync``: the directory from a platform's own 通讯录.

The platform is the roster: whoever it lists is at the school, whoever it no longer
lists has left. A platform member is matched to a person by their account on that
platform (``person_accounts``), else by a userid equal to the account id. Then:

* a match keeps the name, roles and classes the school set; the sync sets their 系部
  (``bot/department_map.py``), their account, and makes them active again;
* someone new is added with the platform's name, their 系部 and the role 任课教师
  (the school changes roles with ``directory import``);
* someone with an account on the platform whom it no longer lists is deactivated, never
  deleted, so runs and records keep their name;
* a member whose departments map to no 系部 is reported unmapped (and not added).

The platform's calls live in its folder behind :class:`DirectorySource`; this module
imports no platform. ``dry_run`` reads and plans only: nothing is written.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import accounts
from bot.db import Database
from bot.department_map import DepartmentMap, PlatformDepartment
from models import Person, PersonAccount

NEW_PERSON_ROLES = "任课教师"
USERID_MAX = 64


@dataclass(frozen=True)
class PlatformMember:
    account_id: str
    name: str  # "" when the listing does not carry names (WeCom's user/list_id)
    department_ids: tuple[str, ...]  # the main department first when the platform says which


class DirectorySource(Protocol):
    """One platform's 通讯录, read through its own API."""

    platform: str

    async def departments(self) -> list[PlatformDepartment]:
        """Every department, the root included."""

    async def members(self) -> list[PlatformMember]:
        """Every member once (a member of two departments lists both)."""

    async def name_of(self, account_id: str) -> str:
        """The member's name, for someone new whose listing had none."""


@dataclass
class _Add:
    userid: str
    account_id: str
    name: str
    department: str


@dataclass
class _Update:
    userid: str
    changes: list[str]
    department: str | None = None
    account_id: str | None = None
    reactivate: bool = False


@dataclass
class SyncReport:
    platform: str
    added: list[tuple[str, str, str]] = field(default_factory=list)  # (userid, name, 系部)
    updated: list[tuple[str, str, str]] = field(default_factory=list)  # (userid, name, what changed)
    left: list[tuple[str, str]] = field(default_factory=list)  # (userid, name)
    unmapped: dict[str, int] = field(default_factory=dict)  # platform department path → members
    unchanged: int = 0
    dry_run: bool = False


@dataclass
class _Plan:
    adds: list[_Add] = field(default_factory=list)
    updates: list[_Update] = field(default_factory=list)
    leaves: list[str] = field(default_factory=list)
    unmapped: Counter = field(default_factory=Counter)
    unchanged: int = 0
    names: dict[str, str] = field(default_factory=dict)  # userid → name, for the report


async def sync_directory(db: Database, source: DirectorySource, exceptions: dict[str, str], *,
                         dry_run: bool = False) -> SyncReport:
    """Read the platform, plan against the directory, and (unless ``dry_run``) apply in one transaction."""
    departments = await source.departments()
    members = _once(await source.members())
    async with db.session() as s:
        plan = await _plan(s, source.platform, departments, members, exceptions)
    for add in plan.adds:
        if not add.name:
            add.name = (await source.name_of(add.account_id)).strip() or add.account_id
    if not dry_run:
        async with db.session() as s:
            await _apply(s, source.platform, plan)
    return SyncReport(
        platform=source.platform, dry_run=dry_run, unchanged=plan.unchanged,
        added=[(a.userid, a.name, a.department) for a in plan.adds],
        updated=[(u.userid, plan.names.get(u.userid, ""), "；".join(u.changes)) for u in plan.updates],
        left=[(u, plan.names.get(u, "")) for u in plan.leaves],
        unmapped=dict(sorted(plan.unmapped.items())))


def _once(members: list[PlatformMember]) -> list[PlatformMember]:
    seen: dict[str, PlatformMember] = {}
    for m in members:
        if m.account_id and m.account_id not in seen:
            seen[m.account_id] = m
    return list(seen.values())


async def _plan(s: AsyncSession, platform: str, departments: list[PlatformDepartment],
                members: list[PlatformMember], exceptions: dict[str, str]) -> _Plan:
    people = {p.userid: p for p in (await s.execute(select(Person))).scalars()}
    owner = dict((await s.execute(select(PersonAccount.account_id, PersonAccount.userid).where(
        PersonAccount.platform == platform))).tuples().all())
    has_account = set(owner.values())
    ours = {p.department for p in people.values() if p.department} | set(exceptions.values())
    tree = DepartmentMap(departments, ours, exceptions)
    plan = _Plan(names={u: p.name for u, p in people.items()})
    seen: set[str] = set()
    taken = set(people)
    for m in members:
        department = tree.first_mapped(m.department_ids)
        userid, new_account = owner.get(m.account_id), False
        if userid is None and m.account_id in people and m.account_id not in has_account:
            userid, new_account = m.account_id, True  # the same staff id, no account here yet
        if department is None:
            plan.unmapped[tree.path(m.department_ids[0]) if m.department_ids else "（无部门）"] += 1
        if userid is None:
            if department is not None:
                new = _new_userid(platform, m.account_id, taken)
                taken.add(new)
                plan.adds.append(_Add(new, m.account_id, m.name.strip(), department))
            continue
        seen.add(userid)
        person = people[userid]
        update = _Update(userid, [])
        if department is not None and department != person.department:
            update.department = department
            update.changes.append(f"系部 {person.department} → {department}")
        if new_account:
            update.account_id = m.account_id
            update.changes.append(f"{platform} 账号 {m.account_id}")
        if not person.active:
            update.reactivate = True
            update.changes.append("重新启用")
        if update.changes:
            plan.updates.append(update)
        else:
            plan.unchanged += 1
    plan.leaves = sorted(u for u in has_account if u not in seen and u in people and people[u].active)
    return plan


def _new_userid(platform: str, account_id: str, taken: set[str]) -> str:
    """The account id itself when it is free and a valid userid; else one derived from it."""
    if account_id not in taken and len(account_id) <= USERID_MAX and not account_id.startswith(
            accounts.STRANGER_PREFIX):
        return account_id
    base = f"{platform}-{account_id.lstrip(accounts.STRANGER_PREFIX)}"[:USERID_MAX - 4]
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}"
    return candidate


async def _apply(s: AsyncSession, platform: str, plan: _Plan) -> None:
    for add in plan.adds:
        s.add(Person(userid=add.userid, name=add.name, department=add.department, roles_text=NEW_PERSON_ROLES,
                     classes_text="", active=True))
        await s.flush()
        await accounts.set_accounts(s, add.userid, {platform: add.account_id})
    for update in plan.updates:
        person = await s.get(Person, update.userid)
        if person is None:
            continue
        if update.department is not None:
            person.department = update.department
        if update.reactivate:
            person.active = True
        if update.account_id is not None:
            await accounts.set_accounts(s, update.userid, {platform: update.account_id})
    for userid in plan.leaves:
        person = await s.get(Person, userid)
        if person is not None:
            person.active = False
    await s.flush()
