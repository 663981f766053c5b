"""调课 by choosing: the teacher's meetings this week and next, then nearby free slots, as numbered choices.

Both lists are computed before the question is asked (the form's ``check`` hook) and kept in the
answers (``choices``, ``slot_choices``), so the reply "2" means what the teacher saw.
"""
from __future__ import annotations

import datetime as dt

from bot.context import Context
from bot.reminders.working_time import calendar_for
from bot.timetable_store import effective_between
from handlers.timetable.check import find_moving
from handlers.when.decide import describe
from handlers.when.dialog import school_of, today_of
from handlers.when.periods import Periods
from workflow.timetable.conflicts import Wanted, free_slots

MAX_MEETINGS = 12


def _slot(ctx: Context, day: dt.date, first: int, last: int) -> dict:
    return describe(day, Periods(first, last), today_of(ctx), school_of(ctx))


async def meeting_choices(ctx: Context, day: dt.date | None = None) -> list[dict]:
    """The teacher's meetings from today to the end of next week, in order (at most 12); only those on
    ``day`` when the teacher already said which day ("下周三要开会") and has classes then."""
    today = today_of(ctx)
    end = today + dt.timedelta(days=13 - today.weekday())
    if day is not None and today <= day:
        end = max(end, day)
    occ, _pending = await effective_between(ctx.session, calendar_for(ctx.core.settings), today, end)
    mine = [o for o in occ if o.teacher_userid == ctx.userid]
    mine = ([o for o in mine if o.date == day] or mine)[:MAX_MEETINGS]
    return [{"course": o.course, "classes": list(o.classes), "room": o.room,
             "slot": _slot(ctx, o.date, o.first, o.last)} for o in mine]


async def slot_choices(ctx: Context, answers: dict, limit: int = 5) -> list[dict]:
    """Up to ``limit`` slots near the original where the teacher, every class and the room are free."""
    orig = answers["original"]
    day = dt.date.fromisoformat(orig["date"])
    cal = calendar_for(ctx.core.settings)
    start = max(today_of(ctx) + dt.timedelta(days=1), day - dt.timedelta(days=day.weekday()))
    occ, pending = await effective_between(ctx.session, cal, start, start + dt.timedelta(days=14))
    moving = find_moving(occ, ctx.userid, answers.get("class_name", ""), day, orig["first"], orig["last"])
    classes = moving.classes if moving else tuple(answers.get("class_name", "").split("、"))
    room = answers.get("original_place", "")
    w = Wanted(day, orig["first"], orig["last"], ctx.userid, tuple(classes), room, moving)
    return [{"slot": _slot(ctx, d, f, l), "room": room} for d, f, l in free_slots(w, occ, pending, cal, start,
                                                                                   limit=limit)]


def picked(text: str, options: list) -> dict | None:
    """The option a reply such as '2' names, else None (free text goes on as before)."""
    t = text.strip()
    if t.isdigit() and 1 <= int(t) <= len(options):
        return options[int(t) - 1]
    return None
