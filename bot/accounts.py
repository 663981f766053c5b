"""A person's accounts on each platform (``person_accounts``), both ways.

Inbound: (platform, account_id) → our userid; an account that is nobody gets a
stranger key that can never be a person's userid. Outbound: userid → the
(platform, account_id) to send through. The rule for a person with accounts on
several mounted platforms: the platform they last wrote from
(``last_seen_at``); if they never wrote, the first platform in mount order.
"""
from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Iterable, Sequence

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from models import Person, PersonAccount

STRANGER_PREFIX = "~"  # never in a directory userid (the import refuses it)
_IN_CHUNK = 500


def stranger_key(platform: str, account_id: str) -> str:
    """Where an unknown account's updates and its one refusal are keyed (≤ 64 characters)."""
    key = f"{STRANGER_PREFIX}{platform}:{account_id}"
    if len(key) <= 64:
        return key
    return f"{STRANGER_PREFIX}{platform}:" + hashlib.sha256(account_id.encode("utf-8")).hexdigest()[:40]


def resolve_many(conn: Connection, accounts: Iterable[tuple[str, str]],
                 now: datetime) -> dict[tuple[str, str], str]:
    """(platform, account) → our userid for a batch of arriving updates, marking each account as the
    one its person last wrote from; an account that is nobody gets its stranger key. Synchronous: the
    callbacks' group commit runs it in a ``Database.write``."""
    by_platform: dict[str, list[str]] = {}
    for platform, account_id in dict.fromkeys(accounts):
        by_platform.setdefault(platform, []).append(account_id)
    out: dict[tuple[str, str], str] = {}
    table = PersonAccount.__table__
    for platform, ids in by_platform.items():
        known: dict[str, str] = {}
        for i in range(0, len(ids), _IN_CHUNK):  # marked and read in one statement
            known.update(conn.execute(
                update(table).where(table.c.platform == platform, table.c.account_id.in_(ids[i:i + _IN_CHUNK]))
                .values(last_seen_at=now).returning(table.c.account_id, table.c.userid)).tuples().all())
        out.update({(platform, a): known.get(a) or stranger_key(platform, a) for a in ids})
    return out


async def routes(s: AsyncSession, userids: Iterable[str], platforms: Sequence[str]) -> dict[str, tuple[str, str]]:
    """userid → (platform, account_id) among ``platforms`` (mount order); people with none are left out."""
    ids = list(dict.fromkeys(userids))
    order = {p: i for i, p in enumerate(platforms)}
    best: dict[str, tuple[tuple, str, str]] = {}
    for i in range(0, len(ids), _IN_CHUNK):
        rows = (await s.execute(select(PersonAccount).where(
            PersonAccount.userid.in_(ids[i:i + _IN_CHUNK]), PersonAccount.platform.in_(list(platforms))))).scalars()
        for a in rows:
            # The latest written-from first; never-written accounts after, in mount order.
            rank = (0, -a.last_seen_at.timestamp(), order[a.platform]) if a.last_seen_at else (1, 0, order[a.platform])
            if a.userid not in best or rank < best[a.userid][0]:
                best[a.userid] = (rank, a.platform, a.account_id)
    return {u: (p, acc) for u, (_, p, acc) in best.items()}


async def account_ids(s: AsyncSession, platform: str, userids: Sequence[str]) -> dict[str, str]:
    """userid → account_id on one platform (for a batch being sent)."""
    out: dict[str, str] = {}
    for i in range(0, len(userids), _IN_CHUNK):
        rows = await s.execute(select(PersonAccount.userid, PersonAccount.account_id).where(
            PersonAccount.platform == platform, PersonAccount.userid.in_(list(userids[i:i + _IN_CHUNK]))))
        out.update(rows.tuples().all())
    return out


async def set_accounts(s: AsyncSession, userid: str, accounts: dict[str, str]) -> None:
    """Create or move the person's account on each named platform (others are left alone)."""
    for platform, account_id in accounts.items():
        mine = (await s.execute(select(PersonAccount).where(
            PersonAccount.platform == platform, PersonAccount.userid == userid))).scalar_one_or_none()
        if mine is not None and mine.account_id == account_id:
            continue
        if mine is not None:
            await s.delete(mine)
            await s.flush()
        s.add(PersonAccount(platform=platform, account_id=account_id, userid=userid))
    await s.flush()


async def ensure_platform_accounts(s: AsyncSession, platform: str) -> int:
    """Give every person without one an account on ``platform`` named by their userid (the local chat)."""
    have = set((await s.execute(select(PersonAccount.userid).where(PersonAccount.platform == platform))).scalars())
    missing = [u for u in (await s.execute(select(Person.userid))).scalars() if u not in have]
    s.add_all(PersonAccount(platform=platform, account_id=u, userid=u) for u in missing)
    await s.flush()
    return len(missing)


async def userid_for(s: AsyncSession, platform: str, account_id: str) -> str:
    """Our userid for an account without marking it written-from (a page visit); strangers get their key."""
    userid = (await s.execute(select(PersonAccount.userid).where(
        PersonAccount.platform == platform, PersonAccount.account_id == account_id))).scalar_one_or_none()
    return userid if userid is not None else stranger_key(platform, account_id)
