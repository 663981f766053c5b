"""A 通知 as the chat and the console both make it: one run with code ``notice`` and one confirm
task per recipient, its card through the outbox, in the caller's transaction.

A notice sent later is the same run with status ``scheduled`` and a ``reminders`` row of kind
``notice`` (bot/reminders/kinds.py): the reminders runtime delivers it at its time, after a
restart too, and cancelling before then is one compare-and-set on the run's status.
"""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Iterable

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot import accounts, outbox
from bot.links import download_url
from bot.outbound import OutboundMessage
from bot.platforms.base import ReadStatus
from models import OutboxRecipient, Person, Reminder, Run, SchoolClass, StoredFile, Task, next_number

if TYPE_CHECKING:
    from bot.core import BotCore

NOTICE = "notice"
CARD = "notice/card.yaml.j2"
READ_RECEIPT = "notice/read_receipt.j2"  # sent beside the card where the platform reports who read it
ATTACHMENT_STEP = "attachment"  # StoredFile.step_id of a notice's attachments
KEPT = ("text", "audience", "deadline", "need_confirm", "recipients", "attachments")


def reminder_key(run_id: int) -> str:
    return f"notice:{run_id}"


async def create_notice(s: AsyncSession, core: "BotCore", sender: str, data: dict,
                        send_at: datetime | None = None) -> tuple[Run, int]:
    """The notice run, numbered; sent now (→ how many the outbox queued it for) or kept for ``send_at`` (UTC, → 0)."""
    now = core.clock()
    run = Run(code=NOTICE, title=data["text"][:60], started_by=sender, owner_userid=sender,
              data={k: data[k] for k in KEPT if k in data}, created_at=now)
    s.add(run)
    await s.flush()
    run.record_no = f"通知{await next_number(s, NOTICE)}"  # notices have their own numbers, apart from runs
    if send_at is None:
        return run, await deliver(s, core, run)
    run.status = "scheduled"
    run.data = {**run.data, "send_at": core.reminders.hours.local(send_at).strftime("%Y-%m-%d %H:%M")}
    s.add(Reminder(key=reminder_key(run.id), kind="notice", due_at=send_at, payload={"run_id": run.id}))
    await s.flush()
    return run, 0


async def deliver(s: AsyncSession, core: "BotCore", run: Run) -> int:
    """One confirm task per recipient (done at once when no confirmation is asked), and the card."""
    now = core.clock()
    need = bool(run.data.get("need_confirm"))
    people = (await s.execute(select(Person.userid, Person.department)
                              .where(Person.userid.in_(run.data.get("recipients", [])))
                              .order_by(Person.department, Person.userid))).all()
    if people:  # one executemany: a notice to 10,000 people is not 10,000 objects in a unit of work
        await s.execute(insert(Task.__table__), [
            dict(run_id=run.id, step_index=0, step_id="confirm", kind="confirm", group=dept, department=dept,
                 assignee=userid, created_at=now, status="open" if need else "done") for userid, dept in people])
    run.status = "open" if need else "done"
    await s.flush()
    return len(await send_cards(s, core, run, [userid for userid, _ in people]))


async def send_cards(s: AsyncSession, core: "BotCore", run: Run, userids: Iterable[str],
                     reminder: bool = False) -> list[str]:
    """The notice's card; with an attachment each person gets their own signed link to it.
    Returns whom the outbox queued it for (what "共 N 人" counts)."""
    users = list(dict.fromkeys(userids))
    if not users:
        return []
    sender = await s.get(Person, run.started_by)
    files = await attachments(s, run)
    values = dict(run=run, sender=sender, reminder=reminder, need_confirm=run.data.get("need_confirm", False),
                  files=files)
    receipt = core.renderer.text(READ_RECEIPT, **values)

    def render(file_url: str) -> OutboundMessage:
        message = core.renderer.card_message(CARD, **values, file_url=file_url)
        message.read_receipt = receipt
        return message

    if not files:
        sent = [await outbox.enqueue(s, users, render(""))]
    else:
        sent = [await outbox.enqueue(s, [userid], render(download_url(core.settings, files[0].id, userid)))
                for userid in users]
    run.data = {**run.data, "outbox": [*run.data.get("outbox", []), *(q.id for q in sent)]}  # what a 撤回 takes back
    return [u for q in sent for u in q.userids]


async def read_status(s: AsyncSession, core: "BotCore", run: Run) -> dict[str, bool]:
    """userid → has read the notice, for the recipients whose platform can tell (DingTalk); a card read
    after any of its sends (催办 too) counts. Empty when no platform can tell."""
    able = {p.name: p for p in core.platforms if p.capabilities.read_status and isinstance(p, ReadStatus)}
    ids = [int(i) for i in run.data.get("outbox", [])]
    if not able or not ids:
        return {}
    rows = (await s.execute(select(OutboxRecipient.platform, OutboxRecipient.platform_ref, OutboxRecipient.userid)
                            .where(OutboxRecipient.outbox_id.in_(ids), OutboxRecipient.status == "sent",
                                   OutboxRecipient.platform_ref != "", OutboxRecipient.platform.in_(list(able)))
                            .order_by(OutboxRecipient.id))).all()
    status: dict[str, bool] = {}
    for name, platform in able.items():
        sent = [(userid, ref) for p, ref, userid in rows if p == name]
        known = await accounts.account_ids(s, name, [u for u, _ in sent])
        userid_of = {known.get(u, u): u for u, _ in sent}
        for account, read in (await platform.read_status([(known.get(u, u), ref) for u, ref in sent])).items():
            userid = userid_of.get(account, account)
            status[userid] = status.get(userid, False) or read
    return status


async def attachments(s: AsyncSession, run: Run) -> list[StoredFile]:
    ids = [int(i) for i in run.data.get("attachments", [])]
    if not ids:
        return []
    return list((await s.execute(select(StoredFile).where(StoredFile.id.in_(ids)).order_by(StoredFile.id)))
                .scalars())


async def remind(s: AsyncSession, core: "BotCore", run: Run) -> list[str]:
    """催办: the card again to whoever has not confirmed; whom it was queued for."""
    waiting = list((await s.execute(select(Task.assignee).where(Task.run_id == run.id, Task.status == "open")
                                    .order_by(Task.id))).scalars())
    return await send_cards(s, core, run, waiting, reminder=True)


async def cancel_scheduled(s: AsyncSession, run: Run) -> bool:
    """Before its time only: the run and its reminder row, both compare-and-set."""
    res = await s.execute(update(Run).where(Run.id == run.id, Run.status == "scheduled")
                          .values(status="cancelled").execution_options(synchronize_session=False))
    if res.rowcount != 1:
        return False
    await s.execute(update(Reminder).where(Reminder.key == reminder_key(run.id), Reminder.status == "pending")
                    .values(status="skipped", note="通知已取消").execution_options(synchronize_session=False))
    run.status = "cancelled"
    return True


async def withdraw(s: AsyncSession, core: "BotCore", run: Run) -> list[str]:
    """撤回 a sent notice: open confirmations close, its cards are recalled where the platform can
    (WeCom: message/recall, else the card's button greyed to 已撤回), and every recipient hears it.

    Returns the recipients told; empty when the notice was not out (or already withdrawn)."""
    res = await s.execute(update(Run).where(Run.id == run.id, Run.status.in_(("open", "done")))
                          .values(status="withdrawn").execution_options(synchronize_session=False))
    if res.rowcount != 1:
        return []
    run.status = "withdrawn"
    await s.execute(update(Task).where(Task.run_id == run.id, Task.status == "open")
                    .values(status="cancelled", result={"action": "withdrawn"})
                    .execution_options(synchronize_session=False))
    everyone = list((await s.execute(select(Task.assignee).where(Task.run_id == run.id).order_by(Task.id)))
                    .scalars())
    await _recall_cards(s, core, run)
    if not everyone:
        return []
    sender = await s.get(Person, run.started_by)
    queued = await outbox.enqueue(s, everyone, core.renderer.card_message(CARD, run=run, sender=sender, reminder=False,
                                                                          need_confirm=False, files=[], file_url="",
                                                                          withdrawn=True))
    return list(queued.userids)


async def _recall_cards(s: AsyncSession, core: "BotCore", run: Run) -> None:
    """One recall per message the platform sent (its reference), on the platform it went through."""
    able = [p.name for p in core.platforms if p.capabilities.recall]
    ids = [int(i) for i in run.data.get("outbox", [])]
    if not able or not ids:
        return
    rows = (await s.execute(select(OutboxRecipient.platform, OutboxRecipient.platform_ref, OutboxRecipient.userid)
                            .where(OutboxRecipient.outbox_id.in_(ids), OutboxRecipient.status == "sent",
                                   OutboxRecipient.platform_ref != "", OutboxRecipient.platform.in_(able))
                            .order_by(OutboxRecipient.id))).all()
    sent: dict[tuple[str, str], list[str]] = {}
    for platform, ref, userid in rows:
        sent.setdefault((platform, ref), []).append(userid)
    name = core.renderer.text("task/replace_name.j2", action="withdrawn")
    for (platform, ref), userids in sent.items():
        await outbox.enqueue_on(s, platform, userids, OutboundMessage(kind="recall", reply_ref=ref, replace_name=name))


async def audience(s: AsyncSession, roles: Iterable[str], departments: Iterable[str],
                   classes: Iterable[str]) -> list[Person]:
    """Checked boxes → people: anyone with a checked role in a checked 系部 (every 系部 when none is
    checked), and the counselors of the checked classes."""
    roles, departments, classes = set(roles), set(departments), set(classes)
    chosen: dict[str, Person] = {}
    if roles:
        q = select(Person).order_by(Person.department, Person.userid)
        if departments:
            q = q.where(Person.department.in_(departments))
        for p in (await s.execute(q)).scalars():
            if roles & set(p.roles):
                chosen[p.userid] = p
    if classes:
        counselors = select(SchoolClass.counselor_userid).where(SchoolClass.name.in_(classes))
        for p in (await s.execute(select(Person).where(Person.userid.in_(counselors)))).scalars():
            chosen[p.userid] = p
    return list(chosen.values())
