"""Reading a day and periods from what a teacher typed — pure functions, no I/O.

``read(text, today, term)`` returns a :class:`Reading`: every date the words could mean
(one when sure, two when the bot must ask), the periods, the 上午/下午/晚上 hint, or the
problem that makes the words unreadable. It never picks between two readings.

Decisions: "12.10", "12/10" and "12-10" are month.day (the Chinese order); a date without
a year is the one nearest to today; a bare 周X on that same weekday, or on a weekday already
past this week, has two readings (this week's and next week's).
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, timedelta

from handlers.when.periods import (
    CN_DIGITS, PeriodProblem, Periods, cn_number, find_bare_pair, find_hint, find_periods,
)
from handlers.when.school import Term

WEEKDAY_NAMES = "一二三四五六日"
_WEEKDAY_CHARS = {**{c: i for i, c in enumerate(WEEKDAY_NAMES)}, "天": 6, "7": 6,
                  **{str(i + 1): i for i in range(6)}}
_NUM = rf"(\d{{1,2}}|[{CN_DIGITS}]+)"
_WD = r"(?:周|星期|礼拜)\s*([一二三四五六日天1-7])"

YMD_RE = re.compile(r"(\d{4})\s*[年./-]\s*(\d{1,2})\s*[月./-]\s*(\d{1,2})\s*[日号]?")
MD_CN_RE = re.compile(rf"{_NUM}\s*月\s*{_NUM}\s*[日号]?")
MD_BARE_RE = re.compile(r"(?<![\d.])(\d{1,2})\s*[./-]\s*(\d{1,2})(?![\d.])")
TEACHING_WEEK_RE = re.compile(rf"第\s*{_NUM}\s*(?:教学)?周\s*的?\s*{_WD}")
WEEK_ONLY_RE = re.compile(rf"第\s*{_NUM}\s*(?:教学)?周")
WEEKDAY_RE = re.compile(rf"(上上个?|下下个?|上个?|下个?|本|这个?)?\s*{_WD}")
RELATIVE_DAYS = {"大后天": 3, "后天": 2, "明天": 1, "明日": 1, "今天": 0, "今日": 0, "昨天": -1, "前天": -2}
_WEEK_SHIFT = {"上上": -2, "上": -1, "本": 0, "这": 0, "下": 1, "下下": 2}


@dataclass(frozen=True)
class Mention:
    """One way the text names a day: its possible dates, and the weekday if that is all it said."""

    dates: tuple[date, ...]
    weekday: int | None = None
    precise: bool = True


@dataclass(frozen=True)
class Reading:
    dates: tuple[date, ...] = ()  # () nothing said, (d,) sure, (a, b) ask which
    ambiguity: str | None = None  # same_weekday, past_weekday, conflict
    periods: Periods | None = None
    hint: str | None = None
    problem: str | None = None
    values: dict = field(default_factory=dict)


def normalise(text: str) -> str:
    """Full-width to half-width (NFKC), one space between words."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip()


def _weekday(char: str) -> int:
    return _WEEKDAY_CHARS[char]


def _month_day(month: int, day: int, today: date) -> date | None:
    """The valid date with this month and day nearest to today, or None (2月30日)."""
    found = []
    for year in (today.year - 1, today.year, today.year + 1):
        try:
            found.append(date(year, month, day))
        except ValueError:
            continue
    return min(found, key=lambda d: abs((d - today).days)) if found else None


class _Unreadable(ValueError):
    def __init__(self, code: str, **values: object):
        super().__init__(code)
        self.code = code
        self.values = values


def _absolute(text: str, today: date, bare_allowed: bool) -> tuple[list[Mention], str]:
    mentions: list[Mention] = []
    for m in list(YMD_RE.finditer(text)):
        try:
            mentions.append(Mention((date(int(m[1]), int(m[2]), int(m[3])),)))
        except ValueError:
            raise _Unreadable("bad_date", month=int(m[2]), mday=int(m[3])) from None
    text = YMD_RE.sub(" ", text)
    patterns = [MD_CN_RE, MD_BARE_RE] if bare_allowed else [MD_CN_RE]
    for pattern in patterns:
        if pattern is MD_BARE_RE and mentions:  # '12月10日 3-4': the day is said, the pair is periods
            break
        for m in list(pattern.finditer(text)):
            month, day = cn_number(m[1]), cn_number(m[2])
            if month is None or day is None:
                raise _Unreadable("unclear", text=m[0])
            found = _month_day(month, day, today)
            if found is None:
                raise _Unreadable("bad_date", month=month, mday=day)
            mentions.append(Mention((found,)))
        text = pattern.sub(" ", text)
    return mentions, text


def _relative(text: str, today: date, term: Term | None) -> tuple[list[Mention], str]:
    mentions: list[Mention] = []
    monday = today - timedelta(days=today.weekday())
    for m in list(TEACHING_WEEK_RE.finditer(text)):
        week = cn_number(m[1])
        if term is None:
            raise _Unreadable("no_term")
        start = term.week_monday(week or 0)
        if start is None:
            raise _Unreadable("no_such_week", week=week if week is not None else m[1], weeks=term.weeks,
                              term=term.name)
        mentions.append(Mention((start + timedelta(days=_weekday(m[2])),)))
    text = TEACHING_WEEK_RE.sub(" ", text)
    if (m := WEEK_ONLY_RE.search(text)) is not None:
        raise _Unreadable("week_without_day", week=m[1])
    for m in list(WEEKDAY_RE.finditer(text)):
        wd = _weekday(m[2])
        prefix = (m[1] or "").rstrip("个")
        if prefix:
            day = monday + timedelta(weeks=_WEEK_SHIFT[prefix], days=wd)
            mentions.append(Mention((day,), weekday=wd))
        elif wd > today.weekday():
            mentions.append(Mention((monday + timedelta(days=wd),), weekday=wd, precise=False))
        else:  # today's weekday, or one already past this week: this week's or next week's?
            this_week = monday + timedelta(days=wd)
            mentions.append(Mention((this_week, this_week + timedelta(weeks=1)), weekday=wd, precise=False))
    text = WEEKDAY_RE.sub(" ", text)
    for word in sorted(RELATIVE_DAYS, key=len, reverse=True):
        if word in text:
            mentions.append(Mention((today + timedelta(days=RELATIVE_DAYS[word]),)))
            text = text.replace(word, " ")
    return mentions, text


def _combine(mentions: list[Mention]) -> tuple[tuple[date, ...], str | None]:
    """One day from every mention, or two when they disagree (12月10日周五, where 12-10 is a 周四)."""
    if not mentions:
        return (), None
    precise = [m for m in mentions if m.precise]
    if not precise:
        first = mentions[0]
        if len(first.dates) == 1:
            return first.dates, None
        return first.dates, "weekday"
    chosen = precise[0].dates[0]
    for other in precise[1:]:
        if other.dates[0] != chosen:
            return (chosen, other.dates[0]), "conflict"
    for weekday_only in (m for m in mentions if not m.precise):
        if weekday_only.weekday is not None and chosen.weekday() != weekday_only.weekday:
            same_week = chosen - timedelta(days=chosen.weekday() - weekday_only.weekday)
            return (chosen, same_week), "conflict"
    return (chosen,), None


def read(text: str, today: date, term: Term | None, *, day_known: bool = False) -> Reading:
    """What the words say. ``day_known``: the day is settled, so a bare '3-4' means periods."""
    text = normalise(text)
    try:
        periods, rest = find_periods(text)
        hint, rest = find_hint(rest)
        mentions, rest = _relative(rest, today, term)
        absolute, rest = _absolute(rest, today, bare_allowed=not day_known and not mentions)
        mentions = absolute + mentions
        if periods is None and (day_known or mentions):
            periods, rest = find_bare_pair(rest)
            if periods is None and day_known and re.fullmatch(rf"\s*第?\s*[\d{CN_DIGITS}]+\s*", rest):
                periods, rest = find_periods(rest.strip() + "节")
    except PeriodProblem as bad:
        return Reading(problem=bad.code, values=bad.values)
    except _Unreadable as bad:
        return Reading(problem=bad.code, values=bad.values)
    leftover = re.sub(r"[\s,，.。、:：;；的(（)）]+", "", rest)
    if re.search(r"\d", leftover):
        return Reading(problem="unclear", values={"text": leftover})
    dates, ambiguity = _combine(mentions)
    if ambiguity == "weekday":
        ambiguity = "same_weekday" if dates[0] == today else "past_weekday"
    if not dates and periods is None and hint is None:
        return Reading(problem="nothing")
    return Reading(dates=dates, ambiguity=ambiguity, periods=periods, hint=hint)
