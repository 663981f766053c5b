"""The outbox: every outbound message is a row before it is sent, and each send is idempotent.

Rows are written in the same transaction as the change that caused them, so a rolled-back decision
sends nothing. The drainer (``bot.drainer``) claims due recipients in batches (at most the platform's
``max_batch`` per call), sends, and records the outcome per recipient.

Nobody names a platform when sending (``enqueue``): at a recipient's first claim their accounts
(``bot.accounts``) pick it — the one they last wrote from, else the first mounted — fixed with the
batch. A recall or card update (``enqueue_on``) and a stranger's answer name theirs.

Exactly one delivery per person and message, across crashes:

* Every request carries the platform's duplicate check from its first attempt
  (``dedup=True``; WeCom's ``enable_duplicate_check``), and a resend is the
  byte-identical request: a batch's recipients are fixed on its first claim
  (``outbox_recipients.batch``), re-sent in the same order, and a card's
  ``task_id`` is derived from the outbox row and that batch key. So when a
  process dies between WeCom's answer and our "sent" mark, the resend is
  dropped by WeCom for everyone who already got it, and delivered to the rest.
* A claim names its worker; once that worker's heartbeat is stale
  (``bot.heartbeat``) the claim is released and resent within seconds.
* Two deliberately separate but identical messages to one person (帮助 asked
  twice) must both arrive, yet would be identical requests. ``enqueue`` gives
  such a repeat a ``variant`` — one more than the highest variant of an
  identical message to any of the same people in the last ``REPEAT_WINDOW`` —
  and the platform makes the request differ by it (WeCom: an invisible
  zero-width suffix on text and markdown; cards already differ by task_id).

Replies and the engine's messages (``enqueue_later``) are written in bulk when their transaction
commits: a batch of updates costs one variant query and two inserts, not three statements a reply.
An ``enqueue`` in the same transaction writes them first, so each person's order is kept.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Iterable, NamedTuple

from sqlalchemy import event, func, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from bot.outbound import OutboundMessage
from models import OutboxMessage, OutboxRecipient, Person, utcnow


DUE_NOW = datetime(2000, 1, 1)
# Twice WeCom's longest duplicate-check interval (4 h): a repeat sent later than this is distinct anyway.
REPEAT_WINDOW = timedelta(hours=8)
_IN_CHUNK = 500  # bound parameters per IN (...)
UNCOUNTED = ("card_update", "recall")  # they change a message already sent: never a repeat
_LATER = "outbox_later"  # session.info key: messages to write when the transaction commits


def body_hash(message: OutboundMessage, stored: dict | None = None) -> str:
    """The platform is not known yet, so a repeat is counted across platforms (a harmless extra variant).
    ``stored``: the message's ``to_json()`` when the caller has it already."""
    canonical = json.dumps(message.to_json() if stored is None else stored, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def card_id(outbox_id: int, batch: str) -> str:
    """Unique per app (WeCom's task_id rule) and the same on every resend of the batch."""
    return f"c{outbox_id}b{batch}"


Queued = NamedTuple("Queued", [("id", int), ("userids", tuple[str, ...])])  # the row; whom it reaches, in order


async def enqueue(session: AsyncSession, userids: Iterable[str], message: OutboundMessage) -> Queued:
    """Store ``message`` for ``userids`` once each, none for who left; any count told to people is from this."""
    unique = await _without_inactive(session, list(dict.fromkeys(u for u in userids if u)))
    return Queued(await _store(session, unique, message), tuple(unique))


async def _without_inactive(session: AsyncSession, userids: list[str]) -> list[str]:
    """People already read in this transaction are judged as read (a reply costs no query)."""
    gone: set[str] = set()
    unknown: list[str] = []
    for u in userids:
        person = session.identity_map.get(identity_key(Person, u))
        if person is None:
            unknown.append(u)
        elif not person.active:
            gone.add(u)
    for i in range(0, len(unknown), _IN_CHUNK):
        gone.update((await session.execute(select(Person.userid).where(
            Person.userid.in_(unknown[i:i + _IN_CHUNK]), Person.active.is_(False)))).scalars())
    return [u for u in userids if u not in gone] if gone else userids


class _Later(NamedTuple):
    message: OutboundMessage
    digest: str
    userids: list[str]
    stored: dict | None = None  # the message's to_json(), made once


async def enqueue_later(session: AsyncSession, userids: Iterable[str], message: OutboundMessage) -> list[str]:
    """``enqueue`` without an id: written with the transaction's other such messages when it commits.
    Returns whom it will reach (none who left)."""
    unique = await _without_inactive(session, list(dict.fromkeys(u for u in userids if u)))
    if unique:
        stored = message.to_json()
        session.info.setdefault(_LATER, []).append(_Later(message, body_hash(message, stored), unique, stored))
    return unique


async def write_later(session: AsyncSession) -> None:
    """Write what ``enqueue_later`` holds now (commit does it anyway)."""
    if session.info.get(_LATER):
        await session.run_sync(_write_later)


def take_later(session: AsyncSession) -> list[_Later]:
    """Take what ``enqueue_later`` holds, to write elsewhere with ``write_taken`` (the commit will not)."""
    return session.info.pop(_LATER, None) or []


def _write_later(session: Session) -> None:
    write_taken(session, session.info.pop(_LATER, None) or [])


def write_taken(conn: Connection | Session, later: list[_Later]) -> None:
    """Write messages held for a commit: one variant query and two inserts for all of them."""
    if not later:
        return
    rows = [dict(platform="", message=item.stored, body_hash=item.digest, variant=variant,
                 created_at=utcnow()) for item, variant in zip(later, _variants(conn, later))]
    table = OutboxMessage.__table__
    ids = conn.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True), rows).scalars().all()
    conn.execute(insert(OutboxRecipient.__table__), [
        dict(outbox_id=oid, userid=u, next_attempt_at=DUE_NOW, platform="", account_id="")
        for oid, item in zip(ids, later) for u in item.userids])


def _variants(session: Connection | Session, later: list[_Later]) -> list[int]:
    """Each message's variant, in order: 0 for a first one (and for card updates and recalls), else one
    more than the highest identical recent message to any of its people, earlier ones in ``later`` too."""
    highest = _highest_variants(session, later)
    out = []
    for item in later:
        variant = 0
        if item.message.kind not in UNCOUNTED:
            variant = 1 + max((highest.get((item.digest, u), -1) for u in item.userids), default=-1)
            highest.update(((item.digest, u), variant) for u in item.userids)
        out.append(variant)
    return out


def _highest_variants(session: Connection | Session, later: list[_Later]) -> dict[tuple[str, str], int]:
    """(body hash, person) → the highest variant of an identical recent message to them, in one query."""
    digests = list({item.digest for item in later if item.message.kind not in UNCOUNTED})
    if not digests:
        return {}
    users = list({u for item in later if item.message.kind not in UNCOUNTED for u in item.userids})
    since = utcnow() - REPEAT_WINDOW
    highest: dict[tuple[str, str], int] = {}
    for i in range(0, len(users), _IN_CHUNK):
        for digest, userid, top in session.execute(
                select(OutboxMessage.body_hash, OutboxRecipient.userid, func.max(OutboxMessage.variant))
                .join(OutboxRecipient, OutboxRecipient.outbox_id == OutboxMessage.id)
                .where(OutboxMessage.body_hash.in_(digests), OutboxMessage.created_at >= since,
                       OutboxRecipient.userid.in_(users[i:i + _IN_CHUNK]))
                .group_by(OutboxMessage.body_hash, OutboxRecipient.userid)):
            highest[(digest, userid)] = top
    return highest


@event.listens_for(Session, "before_commit")
def _write_on_commit(session: Session) -> None:
    _write_later(session)


@event.listens_for(Session, "after_soft_rollback")
def _drop_on_rollback(session: Session, previous) -> None:
    if not previous.nested:  # a savepoint's rollback leaves the transaction's messages
        session.info.pop(_LATER, None)


async def enqueue_on(session: AsyncSession, platform: str, userids: Iterable[str], message: OutboundMessage) -> int:
    """Store ``message`` for ``userids`` on one named platform (a recall or card update goes where it went)."""
    return await _store(session, list(dict.fromkeys(u for u in userids if u)), message, platform=platform)


async def enqueue_to_account(session: AsyncSession, platform: str, account_id: str, key: str,
                             message: OutboundMessage) -> int:
    """An answer to an account that is nobody (a stranger), keyed by ``key`` for its order."""
    return await _store(session, [key], message, platform=platform, account_id=account_id)


async def _store(session: AsyncSession, unique: list[str], message: OutboundMessage,
                 platform: str = "", account_id: str = "") -> int:
    await write_later(session)  # what was queued before goes before
    stored = message.to_json()
    digest = body_hash(message, stored)
    [variant] = await session.run_sync(_variants, [_Later(message, digest, unique)])
    row = OutboxMessage(platform=platform, message=stored, body_hash=digest, variant=variant)
    session.add(row)
    await session.flush()
    # Due at once whatever the clock says (tests drive a simulated one); backoff sets real times.
    # One executemany, not a unit of work per row: a notice to 10,000 people is queued in a blink.
    if unique:
        await session.execute(insert(OutboxRecipient.__table__), [
            dict(outbox_id=row.id, userid=u, next_attempt_at=DUE_NOW, platform=platform, account_id=account_id)
            for u in unique])
    return row.id


async def delivery_counts(session: AsyncSession, outbox_id: int) -> dict[str, int]:
    rows = (await session.execute(
        select(OutboxRecipient.status).where(OutboxRecipient.outbox_id == outbox_id)
    )).scalars().all()
    counts: dict[str, int] = {}
    for status in rows:
        counts[status] = counts.get(status, 0) + 1
    return counts
