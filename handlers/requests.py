"""A person's own requests: 撤回 one that is still open (asking which, when there are several)
and 重新提交 one that was 驳回 (its form again with the old answers, straight to the summary)."""
from __future__ import annotations

from sqlalchemy import select

from bot import directory
from bot.buttons import Resubmit
from bot.context import Context
from bot.router import Router
from handlers.forms import FORMS, start_form
from models import Run

router = Router("requests")


# ----- 撤回 ----------------------------------------------------------------------------------
@router.command("withdraw", "撤回", takes_args=True)
async def cmd_withdraw(ctx: Context) -> None:
    q = select(Run).where(Run.started_by == ctx.userid, Run.status == "open", Run.code != "notice")
    if ctx.args:
        q = q.where(Run.record_no == ctx.args)
    runs = (await ctx.session.execute(q.order_by(Run.id.desc()))).scalars().all()
    if not runs:
        await ctx.reply("run/nothing_to_withdraw.j2")
        return
    if len(runs) > 1:  # never guess which one
        await ctx.begin("withdraw_pick", "ask", {"runs": [r.id for r in runs[:9]]})
        await ctx.reply("run/withdraw_pick.j2", runs=runs[:9])
        return
    await _withdraw(ctx, runs[0])


@router.conversation("withdraw_pick")
async def on_withdraw_pick(ctx: Context) -> None:
    ids = ctx.conversation.data["runs"]
    runs = [await ctx.session.get(Run, i) for i in ids]
    t = ctx.text
    chosen = runs[int(t) - 1] if t.isdigit() and 1 <= int(t) <= len(runs) else \
        next((r for r in runs if r is not None and r.record_no == t), None)
    if chosen is None:
        await ctx.reply("run/withdraw_pick.j2", runs=runs, bad=t)
        return
    await ctx.end()
    await _withdraw(ctx, chosen)


async def _withdraw(ctx: Context, run: Run) -> None:
    engine = ctx.core.engine
    told = [u for u in await engine.waiting(ctx.session, run) if u != ctx.userid]
    outcome = await engine.withdraw(ctx.session, run, ctx.person)
    if outcome != "ok":
        await ctx.reply("errors/already_done.j2", run=run)
        return
    names = await directory.names(ctx.session, told)
    await ctx.reply("run/withdrawn.j2", run=run, told=[names.get(u, u) for u in told])


# ----- 重新提交 ------------------------------------------------------------------------------
@router.button(Resubmit, malformed="errors/already_done.j2")
async def on_resubmit(ctx: Context, key: Resubmit) -> None:
    await resubmit(ctx, await ctx.session.get(Run, key.run_id))


@router.command("resubmit", "重新提交", takes_args=True)
async def cmd_resubmit(ctx: Context) -> None:
    q = select(Run).where(Run.started_by == ctx.userid, Run.status == "rejected")
    if ctx.args:
        q = q.where(Run.record_no == ctx.args)
    runs = [r for r in (await ctx.session.execute(q.order_by(Run.id.desc()).limit(20))).scalars()
            if r.code in ctx.core.specs and ctx.core.specs[r.code].start_form]
    if not runs:
        await ctx.reply("run/nothing_to_resubmit.j2")
        return
    await resubmit(ctx, runs[0])


async def resubmit(ctx: Context, run: Run | None) -> None:
    """The old answers fill the form; the summary comes at once, so 确认 (or 修改 N) is all it takes."""
    spec = ctx.core.specs.get(run.code) if run is not None else None
    if run is None or spec is None or not spec.start_form or run.started_by != ctx.userid:
        await ctx.reply("errors/already_done.j2", run=None)
        return
    if run.status != "rejected" or await _resubmitted(ctx, run):
        await ctx.reply("errors/already_done.j2", run=run)
        return
    form = FORMS[spec.start_form]
    answers = {k: v for k, v in (run.data.get("form") or {}).items()
               if k not in form.derived and k != "resubmit_of"}
    await start_form(ctx, form.name, answers, origin=run.id,
                     prefix=ctx.render.text("run/resubmit_lead.j2", run=run))


async def _resubmitted(ctx: Context, run: Run) -> bool:
    """A later request of the same person already resubmits this one."""
    later = (await ctx.session.execute(select(Run).where(Run.started_by == ctx.userid, Run.code == run.code,
                                                         Run.id > run.id).limit(50))).scalars()
    return any((r.data.get("form") or {}).get("resubmit_of") == run.id for r in later)
