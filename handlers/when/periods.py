"""Class periods (节次) as teachers write them: 3-4节, 3、4节, 第三四节, 第3节到第4节, 七八节.

Numbers may be digits or Chinese numerals (read by cn2an, never a hand-written table).
A run of Chinese numerals without a separator ("三四", "九十", "十一十二") is read as
consecutive periods when it cannot be one period number.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import cn2an

MAX_PERIOD = 12
# The school's day: 上午 第1-4节, 下午 第5-8节, 晚上 第9-12节 (the 校历 file has no period map).
PARTS_OF_DAY: dict[str, tuple[int, int]] = {"上午": (1, 4), "下午": (5, 8), "晚上": (9, 12)}
# Other words people use for the same parts of the day.
HINT_WORDS: dict[str, str] = {
    "早上": "上午", "上午": "上午", "中午": "下午", "下午": "下午",
    "晚自习": "晚上", "晚上": "晚上", "傍晚": "晚上",
}

CN_DIGITS = "零一二三四五六七八九十两"
NUM = rf"(?:\d{{1,2}}|[{CN_DIGITS}]+)"
RANGE_SEP = r"(?:-|~|—|–|至|到)"
LIST_SEP = r"(?:、|,|/|和|与|及|跟)"
SEP = rf"(?:{RANGE_SEP}|{LIST_SEP})"
ITEM = rf"第?\s*{NUM}\s*"
# A run of periods ends with 节; a weekday's numeral (周四, 星期三, 礼拜五) never starts one.
PERIODS_RE = re.compile(rf"(?<![周期拜\d]){ITEM}(?:节?\s*{SEP}\s*{ITEM})*节")
# Without 节, only a digit pair is taken, and only when the day is already known ("周四 3-4").
BARE_PAIR_RE = re.compile(r"(?<![\d.])(\d{1,2})\s*" + SEP + r"\s*(\d{1,2})(?![\d.])")
_TOKEN_RE = re.compile(rf"({NUM})|({RANGE_SEP})|({LIST_SEP})")


@dataclass(frozen=True)
class Periods:
    first: int
    last: int


class PeriodProblem(ValueError):
    """Periods that cannot be: ``code`` names the refusal (out_of_range, backwards, gap)."""

    def __init__(self, code: str, **values: object):
        super().__init__(code)
        self.code = code
        self.values = values


def cn_number(text: str) -> int | None:
    """A single number in digits or Chinese numerals, or None."""
    if text.isdigit():
        return int(text)
    try:
        value = cn2an.cn2an(text, "strict")
    except (ValueError, KeyError, TypeError):
        return None
    return int(value) if float(value).is_integer() else None


def _consecutive(run: str) -> list[int] | None:
    """'三四' → [3, 4], '十一十二' → [11, 12]: split a numeral run into ascending neighbours."""
    def split(rest: str, previous: int | None) -> list[int] | None:
        if not rest:
            return []
        for size in range(1, len(rest) + 1):
            value = cn_number(rest[:size])
            if value is None or not 1 <= value <= MAX_PERIOD:
                continue
            if previous is not None and value != previous + 1:
                continue
            tail = split(rest[size:], value)
            if tail is not None:
                return [value, *tail]
        return None
    parts = split(run, None)
    return parts if parts and len(parts) > 1 else None


def _numbers(token: str) -> list[int]:
    """One written number: digits, a Chinese period number, or a run of consecutive ones."""
    single = cn_number(token)
    if single is not None and (single <= MAX_PERIOD or token.isdigit()):
        return [single]
    run = _consecutive(token)
    if run is not None:
        return run
    if single is not None:
        return [single]
    raise PeriodProblem("unreadable", text=token)


def read_periods(written: str) -> Periods:
    """The periods in one matched run, e.g. '第3节到第4节' → Periods(3, 4); raises PeriodProblem."""
    items: list[int] = []
    pending_range = False
    for number, range_sep, _list_sep in _TOKEN_RE.findall(written):
        if range_sep:
            pending_range = True
            continue
        if not number:
            continue
        values = _numbers(number)
        if pending_range and items:
            start, end = items[-1], values[0]
            if end < start:
                raise PeriodProblem("backwards", first=start, last=end)
            items.extend(range(start + 1, end))
        items.extend(values)
        pending_range = False
    for value in items:
        if not 1 <= value <= MAX_PERIOD:
            raise PeriodProblem("out_of_range", value=value, max=MAX_PERIOD)
    if any(b < a for a, b in zip(items, items[1:])):
        raise PeriodProblem("backwards", first=items[0], last=items[-1])
    if any(b != a + 1 for a, b in zip(items, items[1:])):
        raise PeriodProblem("gap", periods="、".join(map(str, items)))
    return Periods(items[0], items[-1])


def find_periods(text: str) -> tuple[Periods | None, str]:
    """The periods said with 节, and the text without them; raises PeriodProblem."""
    m = PERIODS_RE.search(text)
    if not m:
        return None, text
    return read_periods(m.group(0)), text[:m.start()] + " " + text[m.end():]


def find_bare_pair(text: str) -> tuple[Periods | None, str]:
    """'3-4' without 节 — only asked for when the day is already known."""
    m = BARE_PAIR_RE.search(text)
    if not m:
        return None, text
    return read_periods(m.group(0)), text[:m.start()] + " " + text[m.end():]


def find_hint(text: str) -> tuple[str | None, str]:
    """上午/下午/晚上 (or a word meaning the same), and the text without it."""
    for word in sorted(HINT_WORDS, key=len, reverse=True):
        if word in text:
            return HINT_WORDS[word], text.replace(word, " ", 1)
    return None, text


def part_of_day(periods: Periods) -> str | None:
    """上午/下午/晚上 when the periods lie within one part of the day."""
    for name, (low, high) in PARTS_OF_DAY.items():
        if low <= periods.first and periods.last <= high:
            return name
    return None


def agrees(hint: str | None, periods: Periods) -> bool:
    if hint is None:
        return True
    low, high = PARTS_OF_DAY[hint]
    return low <= periods.first and periods.last <= high
