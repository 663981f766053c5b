"""1.4 调停课: the teacher's application form (the paper 调停课申请表).

The approvals, the 教务处 task and the notice to the 教学秘书 are all in
``workflow/specs/1.4.yaml``; this module only asks the questions.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from bot import directory
from bot.context import Context
from handlers.forms import DRAFTS, Fill, Form, Invalid, Question, register_form, summary_rows
from handlers.timetable.check import check_answers, check_rows
from handlers.timetable.choices import meeting_choices, picked, slot_choices
from handlers.when.decide import describe
from handlers.when.dialog import answer_slot, draft_from, school_of, today_of
from models import SchoolClass
from workflow.engine import EngineError

TYPES = ("调课", "停课", "代课")


async def _type(ctx: Context, text: str, answers: dict) -> str:
    t = text.strip()
    if t in ("1", "2", "3"):
        t = TYPES[int(t) - 1]
    if t not in TYPES:
        raise Invalid("type")
    return t


async def _nonempty(ctx: Context, text: str, answers: dict, limit: int = 60) -> str:
    t = text.strip()
    if not t:
        raise Invalid("empty")
    if len(t) > limit:
        raise Invalid("too_long", limit=limit)
    return t


async def _course(ctx: Context, text: str, answers: dict):
    """A number picks one of the teacher's meetings (filling 班级, 原时间, 原地点); else the course's name."""
    choice = picked(text, answers.get("choices") or [])
    if choice is not None:
        return Fill(choice["course"], {"class_name": "、".join(choice["classes"]), "original": choice["slot"],
                                       "original_place": choice["room"]})
    return await _nonempty(ctx, text, answers, 40)


async def _place(ctx, text, answers):
    return await _nonempty(ctx, text, answers, 40)


async def _class(ctx: Context, text: str, answers: dict) -> str:
    name = text.strip()
    if not name:
        raise Invalid("empty")
    if await directory.class_department(ctx.session, name) is None:
        known = (await ctx.session.execute(select(SchoolClass.name).order_by(SchoolClass.name))).scalars().all()
        close = [k for k in known if name in k or k in name][:8] or known[:8]
        raise Invalid("class_unknown", name=name, known=close)
    return name


async def _original(ctx: Context, text: str, answers: dict, pending: dict | None = None) -> dict:
    """Read by handlers/when: asks back on two readings, a missing part, a day off or a past day."""
    return await answer_slot(ctx, text, pending, ctx.render.macro(FORM.template, "label_original"))


async def _new_slot(ctx: Context, text: str, answers: dict, pending: dict | None = None):
    choice = picked(text, answers.get("slot_choices") or []) if pending is None else None
    if choice is not None:  # a free slot offered: the room stays
        return Fill(choice["slot"], {"new_place": choice["room"]})
    slot = await answer_slot(ctx, text, pending, ctx.render.macro(FORM.template, "label_new_slot"))
    original = answers.get("original") or {}
    if [slot[k] for k in ("date", "first", "last")] == [original.get(k) for k in ("date", "first", "last")]:
        raise Invalid("same_slot")
    return slot


def _echo_slot(ctx: Context, slot: dict) -> str:
    return ctx.render.macro(FORM.template, "noted_slot", s=slot)


async def _new_place(ctx: Context, text: str, answers: dict) -> str:
    t = text.strip()
    if t in ("不变", "同原地点", "原地点"):
        return answers.get("original_place", "")
    return await _nonempty(ctx, t, answers, 40)


async def _substitute(ctx: Context, text: str, answers: dict) -> dict:
    """A teacher in the directory, by name or 工号; otherwise the teacher picks from the nearest names."""
    p = await directory.find_person(ctx.session, text)
    if p is None:
        teachers = [t for t in await directory.people_with_role(ctx.session, "任课教师") if t.userid != ctx.userid]
        same = [t for t in teachers if t.name == text.strip()]
        if same:
            raise Invalid("teacher_same_name", name=text.strip(), people=same)
        raise Invalid("teacher_unknown", name=text.strip(), people=directory.similar_names(text, teachers))
    if p.userid == ctx.userid:
        raise Invalid("teacher_self")
    if not p.has_role("任课教师"):
        raise Invalid("not_teacher", name=p.name)
    return {"userid": p.userid, "name": p.name, "department": p.department}


async def _reason(ctx: Context, text: str, answers: dict) -> str:
    t = text.strip()
    if len(t) < 2:
        raise Invalid("reason_short")
    return await _nonempty(ctx, t, answers, 200)


def _has_conflicts(answers: dict) -> bool:
    return bool((answers.get("check") or {}).get("needs_reason"))


async def _conflict_reason(ctx: Context, text: str, answers: dict) -> str:
    t = text.strip()
    if len(t) < 2:
        raise Invalid("reason_short")
    return await _nonempty(ctx, t, answers, 200)


def _said_day(answers: dict) -> dt.date | None:
    """The one day the opening sentence named ("下周三"), if it named exactly one."""
    dates = ((answers.get(DRAFTS) or {}).get("original") or {}).get("dates") or []
    return dt.date.fromisoformat(dates[0]) if len(dates) == 1 else None


async def _prefill(ctx: Context, sentence: str, answers: dict) -> tuple[dict, str]:
    """"老师好，我下周三要去开会，想调一下课": the type from the word, the day kept for 原上课时间."""
    draft = draft_from(ctx, sentence)
    if draft is not None:
        answers = {**answers, DRAFTS: {"original": draft}}
    day = _said_day(answers)
    said = describe(day, None, today_of(ctx), school_of(ctx)) if day else None
    return answers, ctx.render.macro(FORM.template, "understood", answers=answers, said=said)


async def _prepare(ctx: Context, answers: dict) -> dict:
    """Before each question: the conflict check, and the choices the next question offers."""
    answers = {k: v for k, v in (await check_answers(ctx, answers)).items() if k not in ("choices", "slot_choices")}
    if answers.get("type") in TYPES and "course" not in answers:
        answers["choices"] = await meeting_choices(ctx, _said_day(answers))
    if answers.get("type") == "调课" and "original" in answers and "new_slot" not in answers:
        answers["slot_choices"] = await slot_choices(ctx, answers)
    return answers


async def finish(ctx: Context, answers: dict) -> None:
    spec = ctx.core.specs["1.4"]
    first_class = answers["class_name"].split("、")[0]  # a 合班 picked from the 课表 names every class
    dept = await directory.class_department(ctx.session, first_class) or ""
    summary = [[k, v] for k, v in summary_rows(ctx, FORM, answers)]
    # The check comes first on the approvers' card: the conflicts and the teacher's reason, or 无冲突.
    check = check_rows(ctx, answers)
    try:
        run = await ctx.core.engine.start_run(
            ctx.session, spec, ctx.person,
            data={"form": answers, "summary": summary, "check": check, "subject_department": dept},
            title=ctx.render.text("adjust/title.j2", answers=answers),
        )
    except EngineError as exc:
        await ctx.reply(exc.template, **exc.values)
        return
    await ctx.reply("adjust/submitted.j2", run=run, summary=summary)


FORM = register_form(Form(
    name="adjust_class",
    questions=[
        Question("type", _type),
        Question("course", _course),
        Question("class_name", _class),
        Question("original", _original, resume=_original, echo=_echo_slot),
        Question("original_place", _place),
        Question("new_slot", _new_slot, when=lambda a: a.get("type") == "调课", resume=_new_slot, echo=_echo_slot),
        Question("new_place", _new_place, when=lambda a: a.get("type") == "调课", depends_on=("original_place",)),
        Question("substitute", _substitute, when=lambda a: a.get("type") == "代课"),
        Question("reason", _reason),
        Question("conflict_reason", _conflict_reason, when=_has_conflicts,
                 depends_on=("original", "new_slot", "class_name")),
    ],
    finish=finish,
    check=_prepare,
    prefill=_prefill,
    derived=("check", "choices", "slot_choices"),
    initial=lambda word: {"type": word} if word in TYPES else {},  # 调课/停课/代课 say the type; 调停课 asks
))
