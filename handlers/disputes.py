"""教务处 answering a 有异议 (workflow/disputes.py): 已更正 asks for the corrected figure, 维持
for a reason; both are typed in chat. A tap on a settled dispute's card says 已处理."""
from __future__ import annotations

from bot.buttons import DisputeAction
from bot.context import Context
from bot.router import Router
from handlers.forms import Invalid
from workflow import disputes
from models import Dispute, Person, Run, Task

router = Router("disputes")
ASK = "dispute/ask.j2"
OUTCOMES = {"stale": "errors/already_done.j2", "missing": "errors/already_done.j2",
            "forbidden": "errors/not_yours.j2"}


@router.button(DisputeAction, malformed="errors/already_done.j2")
async def on_dispute_button(ctx: Context, key: DisputeAction) -> None:
    outcome, dispute, run = await disputes.check(ctx.session, key.dispute_id, ctx.person)
    if outcome != "ok":
        await ctx.reply(OUTCOMES[outcome], run=run)
        return
    await ctx.begin("dispute", key.action, {"dispute_id": dispute.id})
    await ctx.reply_text(await _ask(ctx, dispute, key.action))


@router.conversation("dispute")
async def on_dispute_answer(ctx: Context) -> None:
    action = ctx.conversation.state
    text = ctx.text
    outcome, dispute, run = await disputes.check(ctx.session, ctx.conversation.data["dispute_id"], ctx.person)
    if outcome != "ok":  # settled by someone else meanwhile
        await ctx.end()
        await ctx.reply(OUTCOMES[outcome], run=run)
        return
    task = await ctx.session.get(Task, dispute.task_id)
    hook = ctx.core.engine.hook(ctx.core.engine.steps(run)[task.step_index])
    change: dict = {}
    try:
        if action == "correct":
            change = await hook.correct(ctx.core.engine, ctx.session, run, task, text)
        elif len(text) < 2:
            raise Invalid("reason_short")
    except Invalid as bad:
        await ctx.reply_text(ctx.render.macro(ASK, f"err_{bad.code}", **bad.values))
        return
    await ctx.end()
    answer = f"{change['before']} → {change['after']}" if change else text
    outcome, dispute, _ = await disputes.decide(ctx.core.engine, ctx.session, dispute.id, ctx.person, action, answer,
                                                apply=lambda r: hook.keep_correction(r, change))
    if outcome != "ok":
        await ctx.reply(OUTCOMES[outcome], run=run)
        return
    teacher = await ctx.session.get(Person, dispute.userid)
    name = teacher.name if teacher else dispute.userid
    await ctx.send_to([dispute.userid], ctx.render.text_message("dispute/teacher.j2", run=run, dispute=dispute,
                                                                actor=ctx.person, change=change))
    await ctx.reply("dispute/decided.j2", dispute=dispute, teacher_name=name, change=change)


async def _ask(ctx: Context, dispute: Dispute, action: str) -> str:
    """How many lines the person has decides whether 教务处 must say which one it corrects."""
    engine = ctx.core.engine
    teacher = await ctx.session.get(Person, dispute.userid)
    run = await ctx.session.get(Run, dispute.run_id)
    task = await ctx.session.get(Task, dispute.task_id)
    hook = engine.hook(engine.steps(run)[task.step_index])
    part = await hook.part(engine, ctx.session, run, task, hook.listed(run) or {"rows": []})
    return ctx.render.macro(ASK, action, count=part.get("count", 0), name=teacher.name if teacher else dispute.userid)
