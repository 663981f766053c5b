"""The 调课 check: a requested new slot against the effective timetable, the 校历 and pending requests.

Runs while the teacher fills the 调停课 form (before the summary); its sentences go into the
form answers (``check``), the summary, and the top of the approvers' card.
"""
from __future__ import annotations

import datetime as dt

from bot.context import Context
from bot.reminders.working_time import calendar_for
from bot.timetable_store import effective_between
from workflow.timetable.conflicts import Wanted, slot_conflicts
from workflow.timetable.effective import Occurrence

CONFLICTS = "timetable/conflicts.j2"
CONFIRMED_BY_DATE_READER = ("holiday", "weekend", "outside_term")


def find_moving(occurrences: list[Occurrence], teacher: str, class_name: str, day: dt.date,
                first: int, last: int) -> Occurrence | None:
    """The meeting the teacher is moving: theirs (or the class's) at the original time."""
    hits = [o for o in occurrences if o.overlaps(day, first, last)
            and (o.teacher_userid == teacher or class_name in o.classes)]
    mine = [o for o in hits if o.teacher_userid == teacher]
    return (mine or hits or [None])[0]


async def check_answers(ctx: Context, answers: dict) -> dict:
    """``answers`` with ``check`` set for a 调课 whose new slot is known: {'conflicts': [sentences]}."""
    answers = {k: v for k, v in answers.items() if k != "check"}
    new, orig = answers.get("new_slot"), answers.get("original")
    if answers.get("type") != "调课" or not new or not orig or "new_place" not in answers:
        return answers
    cal = calendar_for(ctx.core.settings)
    new_day, orig_day = dt.date.fromisoformat(new["date"]), dt.date.fromisoformat(orig["date"])
    occ, pending = await effective_between(ctx.session, cal, min(new_day, orig_day), max(new_day, orig_day))
    moving = find_moving(occ, ctx.userid, answers.get("class_name", ""), orig_day, orig["first"], orig["last"])
    classes = moving.classes if moving else (answers.get("class_name", ""),)
    wanted = Wanted(new_day, new["first"], new["last"], ctx.userid, tuple(classes), answers.get("new_place", ""),
                    moving)
    found = slot_conflicts(wanted, occ, pending, cal)
    answers["check"] = {
        "conflicts": [ctx.render.macro(CONFLICTS, c.code, **c.values) for c in found],
        # a day off was already confirmed with 确定 in the date reader; anything else needs a reason
        "needs_reason": any(c.code not in CONFIRMED_BY_DATE_READER for c in found),
    }
    return answers


def check_rows(ctx: Context, answers: dict) -> list[list[str]]:
    """The rows the approvers read first: the conflicts and the teacher's reason, or 已核对：无冲突."""
    check = answers.get("check")
    if check is None:
        return []
    text = ctx.render.macro("timetable/check_rows.j2", "rows", conflicts=check["conflicts"],
                            needs_reason=check.get("needs_reason", False),
                            reason=answers.get("conflict_reason", ""))
    return [line.split("\t", 1) for line in text.splitlines() if "\t" in line]
