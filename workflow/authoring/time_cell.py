"""Reads a 时间 cell into spec windows; anything it cannot read becomes on_demand."""
from __future__ import annotations

import re

from workflow.authoring.sections import one_line, trim

_CN_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8,
              "九": 9, "十": 10, "十一": 11, "十二": 12}
_MONTH_DAYS = {1: 31, 2: 28, 3: 31, 4: 30, 5: 31, 6: 30, 7: 31, 8: 31, 9: 30, 10: 31, 11: 30, 12: 31}


def _num(s: str) -> int:
    return int(s) if s.isdigit() else _CN_DIGITS[s]


def _mmdd(month: int, day: int) -> str:
    return f"{month:02d}-{min(day, _MONTH_DAYS[month]):02d}"


def guess_windows(time_lines: list[str]) -> list[dict]:
    """A rough reading of the 时间 cell; anything unread becomes on_demand."""
    text = one_line(time_lines)
    windows: list[dict] = []
    n = r"(\d{1,2}|十[一二]?|[一二两三四五六七八九])"
    # Fixed day ranges, each labelled by the line before it: 1.1 '新生学籍注册 / 10月8至25日'.
    label = ""
    ranges = []
    for line in (ln.strip() for ln in time_lines if ln.strip()):
        m = re.search(rf"{n}月(\d{{1,2}})日?\s*[-—至到~]\s*(?:{n}月)?(\d{{1,2}})日", line)
        if m:
            m1, d1 = _num(m.group(1)), int(m.group(2))
            m2 = _num(m.group(3)) if m.group(3) else m1
            ranges.append({"label": label, "start": _mmdd(m1, d1), "end": _mmdd(m2, int(m.group(4)))})
            label = ""
        else:
            label = trim(line)
    if ranges:
        windows.append({"kind": "fixed", "ranges": ranges})
    for m in re.finditer(rf"{n}月(上|中|下|中下|上中)旬", text):
        month = _num(m.group(1))
        first, last = {"上": (1, 10), "中": (11, 20), "下": (21, 31), "中下": (11, 31), "上中": (1, 20)}[m.group(2)]
        windows.append({"kind": "fixed", "ranges": [{"label": m.group(0), "start": _mmdd(month, first),
                                                     "end": _mmdd(month, last)}]})
    m = re.search(rf"{n}月前(两|二|一|三)周", text)
    if m:
        month, weeks = _num(m.group(1)), _num(m.group(2))
        windows.append({"kind": "fixed", "ranges": [{"label": m.group(0), "start": _mmdd(month, 1),
                                                     "end": _mmdd(month, 7 * weeks)}]})
    m = re.search(rf"{n}月\s*第(\d)周", text)
    if m:
        month, week = _num(m.group(1)), int(m.group(2))
        windows.append({"kind": "fixed", "ranges": [{"label": m.group(0), "start": _mmdd(month, 7 * week - 6),
                                                     "end": _mmdd(month, 7 * week)}]})
    if windows:
        return windows
    m = re.search(r"第\s*(\d{1,2})\s*(?:周)?\s*[-—至到~]\s*(?:第)?\s*(\d{1,2})\s*周", text) or \
        re.search(r"第\s*(\d{1,2})\s*周", text)
    if m:
        weeks = [int(m.group(1)), int(m.group(m.lastindex))]
        windows.append({"kind": "teaching_weeks", "weeks": weeks})
    m = re.search(r"每\s*(\d{1,2})\s*周", text)
    if m:
        windows.append({"kind": "every_n_weeks", "every": int(m.group(1))})
    if "每月" in text:
        windows.append({"kind": "monthly"})
    if re.search(r"(?:三|3)年", text):
        windows.append({"kind": "months", "label": text, "from_month": 1, "to_month": 12, "every_years": 3})
    if not windows:
        m = re.search(rf"{n}\s*月?\s*(?:份)?\s*[-—至到~]\s*(?:次年)?\s*{n}\s*月", text)
        if m and _num(m.group(1)) > _num(m.group(2)):  # '9月至次年5月': a date range may cross new year
            first, last = _num(m.group(1)), _num(m.group(2))
            windows.append({"kind": "fixed", "ranges": [{"label": m.group(0), "start": _mmdd(first, 1),
                                                         "end": _mmdd(last, 31)}]})
        elif m:
            windows.append({"kind": "months", "from_month": _num(m.group(1)), "to_month": _num(m.group(2))})
        else:  # '1月、10月报名 3月、12月考试': the first list holds the sign-up / start months
            m = re.search(rf"((?:{n}月?、)*{n})\s*月", text)
            for month in re.findall(r"\d{1,2}|十[一二]?|[一二两三四五六七八九]", m.group(1)) if m else []:
                windows.append({"kind": "months", "from_month": _num(month), "to_month": _num(month)})
    seasons = [s for s, words in (("春季", "春"), ("秋季", "秋")) if words in text]
    if seasons and not windows:
        windows.append({"kind": "seasons", "seasons": seasons})
    if re.search(r"开学|学期初", text):
        windows.append({"kind": "semester_phase", "phase": "开学"})
    if re.search(r"期末|学期末", text):
        windows.append({"kind": "semester_phase", "phase": "期末"})
    if re.search(r"学期中", text):
        windows.append({"kind": "teaching_weeks", "label": "学期中", "weeks": [9, 10]})
    if not windows or re.search(r"不定期|不定时", text):
        windows.append({"kind": "on_demand"})
    for w in windows:
        if len(windows) == 1 and not w.get("label"):
            w["label"] = text
    return windows


# ---------------------------------------------------------------- specs
