"""The rules, applied to what has been read so far (a *draft*, kept in the conversation).

Never guess silently: two readings → ask which; something missing → ask only for that;
a day off, a day outside the term or a day past → ask to confirm, saying why (from the 校历);
too old, beyond the term, impossible → refuse. Pure: today and the 校历 come in as arguments.

A draft is JSON: {"dates": [iso, …], "ambiguity", "periods": [first, last] | None,
"hint", "hint_ok": bool, "confirmed": iso | None}.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from handlers.when.periods import PARTS_OF_DAY, Periods, agrees, part_of_day
from handlers.when.school import SchoolDays

TOO_OLD_DAYS = 30  # a class more than this long ago cannot be adjusted any more


@dataclass
class Outcome:
    """done (slot), or the question to ask (choose, hint, missing_date, missing_periods, confirm), or refuse."""

    kind: str
    slot: dict | None = None
    options: list[dict] = field(default_factory=list)
    reasons: list[dict] = field(default_factory=list)
    code: str = ""
    values: dict = field(default_factory=dict)


def describe(day: date, periods: Periods | None, today: date, school: SchoolDays) -> dict:
    """What the echo needs: '12月10日（周四）第3-4节（第14教学周）'."""
    return {
        "date": day.isoformat(),
        "weekday": day.weekday(),
        "with_year": day.year != today.year,
        "week": school.teaching_week(day),
        "off": school.vacation_name(day) if school.teaching_week(day) is None else None,
        "first": periods.first if periods else None,
        "last": periods.last if periods else None,
        "past": day < today,
    }


def _refusal(day: date, today: date, school: SchoolDays) -> tuple[str, dict] | None:
    if day < today - timedelta(days=TOO_OLD_DAYS):
        return "too_old", {"seen": describe(day, None, today, school), "days": TOO_OLD_DAYS}
    horizon = school.horizon(today)
    if day > horizon:
        return "too_far", {"seen": describe(day, None, today, school),
                           "horizon": describe(horizon, None, today, school)}
    return None


def _reasons(day: date, today: date, school: SchoolDays) -> list[dict]:
    """Why this day needs a yes from the person: past, day off, outside the teaching weeks."""
    reasons: list[dict] = []
    if day < today:
        reasons.append({"code": "past", "days": (today - day).days})
    if not school.is_working_day(day):
        holiday = school.holiday_name(day)
        if holiday or day.weekday() < 5:  # a weekday off without a name in the 校历 file is still a holiday
            reasons.append({"code": "holiday", "name": holiday or ""})
        else:
            reasons.append({"code": "weekend"})
    if school.teaching_week(day) is None:
        term = school.term_of(today)
        reasons.append({"code": "outside_term", "vacation": school.vacation_name(day),
                        "term": term.name if term else ""})
    return reasons


def decide(draft: dict, today: date, school: SchoolDays) -> Outcome:
    periods = Periods(*draft["periods"]) if draft.get("periods") else None
    days = [date.fromisoformat(d) for d in draft.get("dates") or []]
    if len(days) > 1:
        allowed = [d for d in days if _refusal(d, today, school) is None]
        if not allowed:
            code, values = _refusal(days[0], today, school)  # type: ignore[misc]
            return Outcome("refuse", code=code, values=values)
        if len(allowed) > 1:
            return Outcome("choose", options=[describe(d, periods, today, school) for d in allowed],
                           code=draft.get("ambiguity") or "")
        days = allowed
    day = days[0] if days else None
    if day is not None and (refused := _refusal(day, today, school)) is not None:
        return Outcome("refuse", code=refused[0], values=refused[1])
    hint = draft.get("hint")
    if periods is not None and hint and not draft.get("hint_ok") and not agrees(hint, periods):
        low, high = PARTS_OF_DAY[hint]
        return Outcome("hint", values={"part": hint, "low": low, "high": high, "first": periods.first,
                                       "last": periods.last, "actual": part_of_day(periods)})
    if day is None:
        return Outcome("missing_date", values={"first": periods.first if periods else None,
                                               "last": periods.last if periods else None, "part": hint})
    if periods is None:
        span = PARTS_OF_DAY.get(hint or "")
        return Outcome("missing_periods", slot=describe(day, None, today, school),
                       values={"part": hint, "low": span[0] if span else None, "high": span[1] if span else None})
    slot = describe(day, periods, today, school)
    reasons = _reasons(day, today, school)
    if reasons and draft.get("confirmed") != day.isoformat():
        return Outcome("confirm", slot=slot, reasons=reasons)
    return Outcome("done", slot=slot)
