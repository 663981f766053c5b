"""2.1–2.4 (``exam_signup_count``): each 系部 reports its 报名人数 and 缴费人数.

A form step: the 填写 button on the card starts this form. The two numbers
must agree ("缴费人数与报考试人数一致，没有缴费不允许参加考试"), so the form
does not close the task while they differ and says by how much. When the step
is over, 教务处 gets the numbers of every 系部 and the totals.
"""
from __future__ import annotations

import re

from bot.context import Context
from handlers.data import StepHook
from handlers.data.office import parts, tell_office
from handlers.data.step_form import TASK, submit, task_question
from handlers.forms import Form, Invalid, Question, register_form, start_form

NAME = "exam_signup_count"
_COUNT = re.compile(r"^\s*(\d{1,5})\s*人?\s*$")


async def _count(ctx: Context, text: str, answers: dict) -> int:
    m = _COUNT.match(text.translate(str.maketrans("０１２３４５６７８９", "0123456789")))
    if not m:
        raise Invalid("not_count")
    return int(m.group(1))


def _mismatch(signed: int, paid: int) -> Invalid:
    return Invalid("mismatch", signed=signed, paid=paid, diff=abs(signed - paid), fewer=paid < signed)


async def _paid(ctx: Context, text: str, answers: dict) -> int:
    paid = await _count(ctx, text, answers)
    if "signed" in answers and paid != answers["signed"]:
        raise _mismatch(answers["signed"], paid)
    return paid


async def finish(ctx: Context, answers: dict) -> None:
    signed, paid = answers["signed"], answers["paid"]
    if signed != paid:  # 报名人数 was changed after 缴费人数 was given
        bad = _mismatch(signed, paid)
        await ctx.reply_text(ctx.render.macro(FORM.template, "err_mismatch", **bad.values))
        await start_form(ctx, NAME, {k: v for k, v in answers.items() if k != "paid"})
        return
    await submit(ctx, answers, {"signed": signed, "paid": paid})


FORM = register_form(Form(
    name=NAME,
    questions=[task_question(), Question("signed", _count), Question("paid", _paid)],
    finish=finish,
))


class ExamSignupCount(StepHook):
    async def on_complete(self, engine, s, run, step) -> None:
        found = await parts(s, run, engine.steps(run).index(step), office=True)
        reported = [p for p in found if p.task and "signed" in p.task.result]
        await tell_office(engine, s, run, "data/signup_summary.j2", step=step, parts=found,
                          signed=sum(p.task.result["signed"] for p in reported),
                          paid=sum(p.task.result["paid"] for p in reported))
