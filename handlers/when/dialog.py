"""The date-and-periods question inside a chat form: read, then answer, ask back or refuse.

``answer_slot`` is a form question's parser: it returns the slot when settled, else raises
:class:`handlers.forms.Reply` with the question (from ``messages/when/``) and the draft to
keep in the conversation row until the next message.
"""
from __future__ import annotations

from datetime import date, timedelta

from bot.context import Context
from bot.reminders.working_time import calendar_for  # the configured 校历, loaded once
from handlers.forms import Reply
from handlers.when.decide import Outcome, decide
from handlers.when.parse import Reading, normalise, read
from handlers.when.school import SchoolDays

ASK = "when/ask.j2"
REFUSE = "when/refuse.j2"
YES = {"1", "确认", "确定", "是", "是的", "对", "没错", "好"}
NO = {"2", "不是", "否", "不对", "重新填写", "重填"}


def today_of(ctx: Context) -> date:
    """The day in Beijing."""
    return (ctx.core.clock() + timedelta(hours=8)).date()


def school_of(ctx: Context) -> SchoolDays:
    return SchoolDays(calendar_for(ctx.core.settings))


def draft_from(ctx: Context, sentence: str) -> dict | None:
    """What a whole sentence says about a day and periods, as a draft for ``answer_slot``; None when nothing
    (or nothing readable: the question is then asked as usual, never guessed)."""
    today = today_of(ctx)
    reading = read(normalise(sentence), today, school_of(ctx).term_of(today))
    if reading.problem or not (reading.dates or reading.periods):
        return None
    return merge({}, reading)


def merge(draft: dict, reading: Reading) -> dict:
    """What the new words say wins; what they leave out is kept from before."""
    merged = dict(draft)
    if reading.dates:
        merged.update(dates=[d.isoformat() for d in reading.dates], ambiguity=reading.ambiguity, confirmed=None)
    if reading.periods is not None:
        merged.update(periods=[reading.periods.first, reading.periods.last], hint_ok=False)
    if reading.hint is not None:
        merged.update(hint=reading.hint, hint_ok=False)
    return merged


def _answer_to_question(draft: dict, text: str) -> dict | None:
    """A bare '1'/'2'/'确认' answers the question just asked; None when the words are a new answer."""
    stage = draft.get("stage")
    if stage == "choose" and text in ("1", "2"):
        chosen = draft["options"][int(text) - 1]
        return {**draft, "dates": [chosen], "ambiguity": None}
    if stage == "confirm" and text in YES:
        return {**draft, "confirmed": draft["dates"][0]}
    if stage == "hint" and text == "1":
        return {**draft, "hint_ok": True}
    return None


def _say(ctx: Context, outcome: Outcome, label: str) -> str:
    if outcome.kind == "refuse":
        return ctx.render.macro(REFUSE, outcome.code, label=label, **outcome.values)
    return ctx.render.macro(ASK, outcome.kind, label=label, outcome=outcome, **outcome.values)


async def answer_slot(ctx: Context, text: str, draft: dict | None, label: str) -> dict:
    """The settled slot {date, first, last, weekday, week, …}, or Reply with the next question."""
    today, school = today_of(ctx), school_of(ctx)
    draft = {k: v for k, v in (draft or {}).items()}
    words = normalise(text)
    if draft.get("stage") == "confirm" and words in NO:
        raise Reply(ctx.render.macro(ASK, "again", label=label), pending=None)
    answered = _answer_to_question(draft, words)
    if answered is None and not words and draft:  # a draft from the sentence that opened the form
        answered = draft
    if answered is None:
        periods_asked = draft.get("stage") in ("missing_periods", "hint")  # so a bare '3-4' is periods
        reading = read(words, today, school.term_of(today), day_known=periods_asked)
        if reading.problem:
            raise Reply(ctx.render.macro(REFUSE, reading.problem, label=label, **reading.values),
                        pending=draft or None)
        answered = merge(draft, reading)
    outcome = decide(answered, today, school)
    if outcome.kind == "done":
        assert outcome.slot is not None
        return outcome.slot
    keep = dict(answered, stage=outcome.kind, options=[o["date"] for o in outcome.options])
    if outcome.slot is not None:  # the one day left standing is the day being asked about
        keep.update(dates=[outcome.slot["date"]], ambiguity=None)
    if outcome.kind == "refuse":  # the day is wrong; what else was said stays for the next answer
        keep = {k: v for k, v in keep.items() if k not in ("dates", "ambiguity", "confirmed", "options")}
        keep["stage"] = "refused"
    raise Reply(_say(ctx, outcome, label), pending=keep)
