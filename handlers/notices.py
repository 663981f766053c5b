"""通知: 教务处 staff broadcast a notice to roles and/or 系部; recipients tap
确认收到; the sender asks 进度 and 催办. Stored as a run with code "notice"
and one confirm task per recipient, so it shares the task rows and audit."""
from __future__ import annotations

import re
from datetime import datetime, timedelta
from types import SimpleNamespace

from sqlalchemy import bindparam, select, update

from bot import directory
from bot.buttons import NoticeConfirm
from bot.context import Context
from bot.notices import NOTICE, create_notice, read_status, send_cards
from bot.router import Router
from handlers.audience import resolve_audience
from models import ROLES, Run, Task

router = Router("notices")
_DEADLINE = re.compile(r"^(?:(\d{4})[-/.年])?(\d{1,2})[-/.月](\d{1,2})日?(?:\s*(\d{1,2})[:：](\d{2}))?$")


def parse_deadline(text: str, now_local: datetime) -> datetime | None | str:
    """A local datetime, None for 无, or 'bad'."""
    t = text.strip().replace(" ", " ")
    if t in ("无", "没有", "不限", "否"):
        return None
    m = _DEADLINE.match(t)
    if not m:
        return "bad"
    year = int(m.group(1)) if m.group(1) else now_local.year
    try:
        d = datetime(year, int(m.group(2)), int(m.group(3)), int(m.group(4) or 17), int(m.group(5) or 0))
    except ValueError:
        return "bad"
    if not m.group(1) and d < now_local - timedelta(days=1):
        d = d.replace(year=year + 1)
    if d < now_local:
        return "past"
    return d


@router.command("notice", "通知", "发通知", roles=("教务处",))
async def cmd_notice(ctx: Context) -> None:
    await ctx.begin("notice", "text", {})
    await ctx.reply("notice/ask_text.j2")


@router.conversation("notice")
async def on_notice(ctx: Context) -> None:
    conv = ctx.conversation
    data = dict(conv.data)
    if ctx.event.kind != "text" or not ctx.text:
        await ctx.reply("notice/text_only.j2")
        return
    t = ctx.text
    if conv.state == "text":
        if len(t.encode()) > 1500:
            await ctx.reply("notice/too_long.j2", size=len(t.encode()))
            return
        data["text"] = t
        await ctx.set_state("audience", data)
        await ctx.reply("notice/ask_audience.j2")
    elif conv.state == "audience":
        people, unknown = await resolve_audience(ctx.session, t)
        if unknown or not people:
            await ctx.reply("notice/bad_audience.j2", unknown=unknown, departments=await directory.teaching_departments(ctx.session), roles=ROLES)
            return
        data["audience"] = t
        data["recipients"] = [p.userid for p in people if p.userid != ctx.userid] or [p.userid for p in people]
        await ctx.set_state("deadline", data)
        await ctx.reply("notice/ask_deadline.j2", count=len(data["recipients"]))
    elif conv.state == "deadline":
        now_local = ctx.core.clock() + timedelta(hours=8)
        d = parse_deadline(t, now_local)
        if d in ("bad", "past"):
            await ctx.reply("notice/bad_deadline.j2", why=d)
            return
        data["deadline"] = d.strftime("%Y-%m-%d %H:%M") if d else ""
        await ctx.set_state("confirm_needed", data)
        await ctx.reply("notice/ask_confirm_needed.j2")
    elif conv.state == "confirm_needed":
        if t not in ("是", "否", "需要", "不需要", "要", "不要"):
            await ctx.reply("notice/ask_confirm_needed.j2", again=True)
            return
        data["need_confirm"] = t in ("是", "需要", "要")
        await ctx.set_state("review", data)
        await ctx.reply("notice/review.j2", data=data, count=len(data["recipients"]))
    elif conv.state == "review":
        if t in ("确认", "发送", "确定"):
            await ctx.end()
            await send_notice(ctx, data)
        else:
            await ctx.reply("notice/review.j2", data=data, count=len(data["recipients"]), again=True)


@router.resume("notice")
async def resume_notice(ctx: Context) -> None:
    """After 帮助/待办/进度 while writing a notice: the question still waiting."""
    data = dict(ctx.conversation.data)
    count = len(data.get("recipients", []))
    question = ctx.render.text({"text": "notice/ask_text.j2", "audience": "notice/ask_audience.j2",
                                "deadline": "notice/ask_deadline.j2", "confirm_needed": "notice/ask_confirm_needed.j2",
                                "review": "notice/review.j2"}[ctx.conversation.state], data=data, count=count)
    await ctx.reply("continue.j2", question=question, what="通知")


async def send_notice(ctx: Context, data: dict) -> Run:
    run, count = await create_notice(ctx.session, ctx.core, ctx.userid, data)
    await ctx.reply("notice/sent.j2", run=run, count=count)
    return run


async def send_notice_card(ctx: Context, run: Run, task: Task | None, userids: list[str],
                           reminder: bool = False) -> list[str]:
    return await send_cards(ctx.session, ctx.core, run, userids, reminder=reminder)


# 确认收到 is the busiest tap there is (a notice to everyone, tapped within a minute): one statement
# when it succeeds, built once. It confirms and reads the notice's number for the reply; the run's
# data is never loaded (a notice's run holds every recipient: 10,000 is a big JSON to parse).
_tasks = Task.__table__
_CONFIRM = (
    update(_tasks)
    .where(_tasks.c.run_id == bindparam("c_run"), _tasks.c.assignee == bindparam("c_user"),
           _tasks.c.status == "open")
    .values(status="done", acted_by=bindparam("c_user"), acted_at=bindparam("c_now"),
            result=bindparam("c_result", type_=_tasks.c.result.type))
    .returning(_tasks.c.id, select(Run.record_no).where(Run.id == _tasks.c.run_id).scalar_subquery())
)


@router.button(NoticeConfirm, malformed="errors/already_done.j2")
async def on_notice_button(ctx: Context, key: NoticeConfirm) -> None:
    """确认收到: the button carries the run id; the task is this person's."""
    confirmed = (await ctx.session.execute(_CONFIRM, {
        "c_run": key.run_id, "c_user": ctx.userid, "c_now": ctx.core.clock(), "c_result": {"action": "confirm"},
    })).first()
    if confirmed is None:  # not theirs, or settled already: say which
        found = (await ctx.session.execute(
            select(Run.record_no, Run.status).join(Task, Task.run_id == Run.id)
            .where(Task.run_id == key.run_id, Task.assignee == ctx.userid))).first()
        await ctx.reply("errors/already_done.j2" if found else "errors/not_yours.j2", run=found)
        return
    if ctx.event.reply_ref:
        await ctx.send_to([ctx.userid], ctx.core.engine.card_update(ctx.event.reply_ref, "confirm"))
    await ctx.reply("notice/confirmed.j2", run=SimpleNamespace(record_no=confirmed[1]))


async def open_notices(s, userid: str) -> list[tuple[Task, Run]]:
    rows = (await s.execute(select(Task, Run).join(Run, Run.id == Task.run_id)
                            .where(Task.assignee == userid, Task.status == "open", Run.code == NOTICE)
                            .order_by(Task.id))).all()
    return [(t, r) for t, r in rows]


async def _latest(ctx: Context) -> Run | None:
    return (await ctx.session.execute(select(Run).where(Run.code == NOTICE, Run.started_by == ctx.userid)
                                      .order_by(Run.id.desc()).limit(1))).scalar_one_or_none()


async def notice_progress(s, run: Run, read: dict[str, bool] | None = None) -> dict:
    """Confirmed per 系部; with ``read`` (userid → read, where the platform can tell) 已读/未读 too."""
    read = read or {}
    tasks = (await s.execute(select(Task).where(Task.run_id == run.id).order_by(Task.department, Task.id))).scalars().all()
    who = await directory.names(s, [t.assignee for t in tasks])
    by_dept: dict[str, dict] = {}
    for t in tasks:
        d = by_dept.setdefault(t.department or "其他", {"done": [], "waiting": [], "read": 0, "unread": 0})
        (d["done"] if t.status == "done" else d["waiting"]).append(who.get(t.assignee, t.assignee))
        if t.assignee in read:
            d["read" if read[t.assignee] else "unread"] += 1
    return {"departments": by_dept, "done": sum(len(v["done"]) for v in by_dept.values()),
            "total": len(tasks), "read": sum(v["read"] for v in by_dept.values()),
            "unread": sum(v["unread"] for v in by_dept.values()), "read_known": bool(read)}


async def latest_notice_progress(ctx: Context) -> bool:
    run = await _latest(ctx)
    if run is None:
        return False
    read = await read_status(ctx.session, ctx.core, run)
    await ctx.reply("notice/progress.j2", run=run, progress=await notice_progress(ctx.session, run, read))
    return True


async def remind_latest_notice(ctx: Context) -> bool:
    run = await _latest(ctx)
    if run is None:
        return False
    waiting = (await ctx.session.execute(select(Task.assignee).where(Task.run_id == run.id, Task.status == "open"))).scalars().all()
    reached = await send_notice_card(ctx, run, None, list(waiting), reminder=True) if waiting else []
    names = await directory.names(ctx.session, reached)
    await ctx.reply("notice/reminded.j2", run=run, names=sorted(names.get(u, u) for u in reached))
    return True
