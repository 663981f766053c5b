"""Form steps: a step with ``kind: form`` names a registered form in ``form:``; its
card carries a 填写 button (``fill:<task id>``) that starts that form in chat.

A step form's first question is the task it is for (filled in from the button),
so the conversation row alone carries everything — a restart mid-form resumes.
``submit`` closes the task with the answers as its result.
"""
from __future__ import annotations

from bot.buttons import FillForm
from bot.context import Context
from bot.router import Router
from handlers.forms import FORMS, Question, start_form
from handlers.workflows import OUTCOME_TEMPLATES

router = Router("step_form")
TASK = "task"


async def _keep_task(ctx: Context, text: str, answers: dict) -> dict:
    """The task comes from the card and cannot be changed here (修改 shows it and moves on)."""
    return answers[TASK]


def task_question() -> Question:
    return Question(TASK, _keep_task)


@router.button(FillForm, malformed="errors/already_done.j2")
async def on_fill(ctx: Context, key: FillForm) -> None:
    engine = ctx.core.engine
    decision = await engine.check(ctx.session, key.task_id, ctx.person, "done")
    if decision.outcome != "ok":
        await ctx.reply(OUTCOME_TEMPLATES[decision.outcome], run=decision.run)
        return
    task, run = decision.task, decision.run
    step = engine.steps(run)[task.step_index]
    if step.form not in FORMS:
        await ctx.reply("data/form_missing.j2", run=run, step=step)
        return
    await start_form(ctx, step.form, {TASK: {
        "id": task.id, "title": run.title, "record_no": run.record_no, "step": step.label,
        "reply_ref": ctx.event.reply_ref,
    }})


async def submit(ctx: Context, answers: dict, result: dict) -> bool:
    """Close the form's task with ``result``; tells the person either way."""
    task_ref = answers[TASK]
    engine = ctx.core.engine
    decision = await engine.act(ctx.session, task_ref["id"], ctx.person, "done", result)
    if decision.outcome != "ok":
        await ctx.reply(OUTCOME_TEMPLATES[decision.outcome], run=decision.run)
        return False
    # Forms begun before the neutral reference kept WeCom's code ("code") or devchat's card id ("card").
    reply_ref = task_ref.get("reply_ref") or task_ref.get("code") or task_ref.get("card") or ""
    if reply_ref:
        await ctx.send_to([ctx.userid], engine.card_update(reply_ref, "done"))
    await ctx.reply("task/acted.j2", action="done", run=decision.run, task=decision.task)
    return True
