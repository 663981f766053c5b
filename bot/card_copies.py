"""Every delivered copy of a card with buttons is a ``card_copies`` row (the outbox records it
with the platform's handle); when what the card is about is settled — a task done, withdrawn,
reassigned, closed, a 有异议 answered — each copy, on every phone, is updated to that final
state, saying who and when. No copy keeps a live button for something already decided.

Called in the transaction that settles (``OutboxNotifier.settle``), and by the drainer for a
copy delivered after its subject was settled already.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import outbox
from bot.outbound import OutboundMessage
from models import CardCopy, Dispute, OutboxMessage, Person, Run, Task

if TYPE_CHECKING:
    from bot.core import BotCore

FINAL = "task/settled.j2"


@dataclass
class Final:
    """A settled state: ``kind`` names the words (messages/task/settled.j2), ``who`` did it, at ``at``."""

    kind: str
    who: str = ""
    at: datetime | None = None
    label: str = ""  # the step's own word for this decision (spec ``labels``), e.g. 已确认代课


def subject_of_task(task_id: int) -> str:
    return f"task:{task_id}"


def subject_of_dispute(dispute_id: int) -> str:
    return f"dispute:{dispute_id}"


async def settle_subjects(core: "BotCore", s: AsyncSession, subjects: list[str]) -> None:
    """The runs these subjects belong to, settled (a copy recorded after its subject was decided)."""
    run_ids: set[int] = set()
    for subject in subjects:
        kind, _, raw = subject.partition(":")
        row = await s.get(Task if kind == "task" else Dispute, int(raw)) if raw.isdigit() else None
        if row is not None and row.status != "open":  # the usual case, a live card, costs one lookup
            run_ids.add(row.run_id)
    for run_id in sorted(run_ids):
        run = await s.get(Run, run_id)
        if run is not None:
            await settle_run(core, s, run)


async def settle_run(core: "BotCore", s: AsyncSession, run: Run) -> None:
    tasks = {subject_of_task(t.id): t for t in
             (await s.execute(select(Task).where(Task.run_id == run.id))).scalars()}
    disputes = {subject_of_dispute(d.id): d for d in
                (await s.execute(select(Dispute).where(Dispute.run_id == run.id))).scalars()}
    subjects = [*tasks, *disputes]
    if not subjects:
        return
    copies = (await s.execute(select(CardCopy).where(CardCopy.subject.in_(subjects), CardCopy.settled == "")
                              .order_by(CardCopy.id))).scalars().all()
    names: dict[str, str] = {}
    groups: dict[tuple, list[CardCopy]] = {}
    steps = core.engine.steps(run)
    for copy in copies:
        if copy.subject in tasks:
            task = tasks[copy.subject]
            final = _task_final(run, task, copy.userid, list(tasks.values()))
            if final is not None and task.step_index < len(steps):
                final.label = steps[task.step_index].labels.get(final.kind, "")
        else:
            final = _dispute_final(disputes[copy.subject])
        if final is None:
            continue
        who = final.who and (names.get(final.who) or await _name(s, final.who, names))
        line = core.renderer.macro(FINAL, "line", kind=final.kind, who=who, at=final.at, label=final.label)
        short = core.renderer.macro(FINAL, "short", kind=final.kind, who=who, label=final.label)
        copy.settled = line[:128]
        groups.setdefault((copy.platform, copy.ref, copy.outbox_id, copy.card_id, line, short), []).append(copy)
    for (platform, ref, outbox_id, card_id, line, short), members in groups.items():
        row = await s.get(OutboxMessage, outbox_id)
        card = OutboundMessage.from_json(row.message).card if row is not None else None
        update = OutboundMessage(kind="card_update", reply_ref=ref, replace_name=short, text=line, card=card,
                                 card_id=card_id)
        await outbox.enqueue_on(s, platform, [c.userid for c in members], update)


def _task_final(run: Run, task: Task, userid: str, tasks: list[Task]) -> Final | None:
    """What a copy of ``task``'s card that ``userid`` holds should show now; None while it is live for them."""
    if task.status == "open":
        return Final("reassigned", task.assignee) if userid != task.assignee else None
    if task.status in ("done", "rejected", "disputed", "skipped"):
        kind = "skipped" if task.status == "skipped" else task.result.get("action", "done")
        return Final(kind, task.acted_by, task.acted_at)
    if task.status == "superseded":
        peers = [t for t in tasks if t.step_index == task.step_index and t.status == "done" and t.id != task.id]
        by = next((t for t in peers if t.group == task.group), peers[0] if peers else None)
        return Final("by_other", by.acted_by, by.acted_at) if by else Final("closed", "", run.finished_at)
    # cancelled: the run ended around it
    if run.status == "cancelled":
        return Final("withdrawn", run.started_by, run.finished_at)
    return Final("run_" + run.status, "", run.finished_at)


def _dispute_final(dispute: Dispute) -> Final | None:
    if dispute.status == "open":
        return None
    return Final("dispute_" + dispute.status, dispute.decided_by, dispute.decided_at)


async def _name(s: AsyncSession, userid: str, cache: dict[str, str]) -> str:
    person = await s.get(Person, userid)
    cache[userid] = person.name if person else userid
    return cache[userid]
