"""The cells of a 课表 row that carry time: 星期, 节次 and 周次.

Each parser returns plain values or raises :class:`WeekSpecError` whose ``code``
names the reason (the sentence lives in ``messages/timetable/problems.j2``).
"""
from __future__ import annotations

import re
import unicodedata

MAX_WEEK = 30
MAX_PERIOD = 12
WEEKDAY_WORDS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "日": 7, "天": 7, "七": 7}


class WeekSpecError(ValueError):
    def __init__(self, code: str, value: str = ""):
        super().__init__(code)
        self.code = code
        self.value = value


def _clean(text: str) -> str:
    return unicodedata.normalize("NFKC", text or "").strip().replace(" ", "")


def parse_weekday(text: str) -> int:
    """1–7, 周一…周日, 星期一…星期日 → 1 (Monday) … 7 (Sunday)."""
    t = _clean(text)
    if t.endswith(".0"):
        t = t[:-2]  # a number cell read from a spreadsheet
    if t.isdigit() and 1 <= int(t) <= 7:
        return int(t)
    m = re.fullmatch(r"(?:周|星期|礼拜)([一二三四五六日天七])", t)
    if m:
        return WEEKDAY_WORDS[m.group(1)]
    raise WeekSpecError("bad_weekday", text)


def parse_periods(text: str) -> tuple[int, int]:
    """3-4, 3~4, 3-4节, 第3-4节, 5 → (first, last), within 1..12."""
    t = _clean(text).removeprefix("第").removesuffix("节")
    m = re.fullmatch(r"(\d{1,2})(?:[-~至到—–](\d{1,2}))?", t)
    if not m:
        raise WeekSpecError("bad_periods", text)
    first = int(m.group(1))
    last = int(m.group(2) or first)
    if not 1 <= first <= last <= MAX_PERIOD:
        raise WeekSpecError("bad_periods", text)
    return first, last


def parse_weeks(text: str) -> frozenset[int]:
    """1-16周, 1-15单周, 2-16双周, 1-8,10-16周, 3周, 1-16(单) → the set of teaching weeks.

    A 单/双 mark applies to every range of the cell it ends; a range whose ends
    leave no week of that parity is refused rather than read as empty.
    """
    t = _clean(text)
    parity = None
    for word, value in (("单周", 1), ("双周", 0), ("(单)", 1), ("(双)", 0), ("单", 1), ("双", 0)):
        if t.endswith(word):
            parity, t = value, t[: -len(word)]
            break
    t = t.removesuffix("周")
    if not t:
        raise WeekSpecError("bad_weeks", text)
    weeks: set[int] = set()
    for part in re.split(r"[,，、;；]", t):
        part = part.removesuffix("周")
        m = re.fullmatch(r"(\d{1,2})(?:[-~至到—–](\d{1,2}))?", part)
        if not m:
            raise WeekSpecError("bad_weeks", text)
        first, last = int(m.group(1)), int(m.group(2) or m.group(1))
        if not 1 <= first <= last <= MAX_WEEK:
            raise WeekSpecError("bad_weeks", text)
        weeks.update(w for w in range(first, last + 1) if parity is None or w % 2 == parity)
    if not weeks:
        raise WeekSpecError("empty_weeks", text)
    return frozenset(weeks)


def weeks_text(weeks: frozenset[int] | set[int]) -> str:
    """The compact form back: {1,2,3,5} → '1-3,5'."""
    out: list[str] = []
    run: list[int] = []
    for w in sorted(weeks):
        if run and w == run[-1] + 1:
            run.append(w)
            continue
        if run:
            out.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
        run = [w]
    if run:
        out.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
    return ",".join(out)


def split_classes(text: str) -> list[str]:
    """合班: 信息2301,信息2302 or 信息2301、信息2302 → both, in order, once each."""
    seen: list[str] = []
    for c in re.split(r"[,，、;；/]", _clean(text)):
        if c and c not in seen:
            seen.append(c)
    return seen
