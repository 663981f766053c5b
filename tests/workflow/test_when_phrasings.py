"""The phrasing table: what teachers type for a day and periods, read against the shipped
校历 on a fixed today (2026-12-03, a Thursday in 第13教学周). Each line is a reading, a
question (with its choices), or a refusal — never a silent guess."""
from __future__ import annotations

from datetime import date

import pytest

from workflow.calendar import load_calendar
from bot.render import Renderer
from handlers.when.decide import TOO_OLD_DAYS, Outcome, decide
from handlers.when.dialog import merge
from handlers.when.parse import read
from handlers.when.school import SchoolDays

TODAY = date(2026, 12, 3)
SCHOOL = SchoolDays(load_calendar("workflow/calendars/2026-2027.yaml"))
RENDER = Renderer()


def outcome(text: str) -> Outcome:
    reading = read(text, TODAY, SCHOOL.term_of(TODAY))
    if reading.problem:
        return Outcome("refuse", code=reading.problem, values=reading.values)
    return decide(merge({}, reading), TODAY, SCHOOL)


def reads(day: str, first: int, last: int):
    return ("done", day, first, last)


def asks(kind: str, *detail):
    return (kind, *detail)


def refuses(code: str):
    return ("refuse", code)


TABLE = [
    # --- the ten ---
    ("周五上午1-2节", reads("2026-12-04", 1, 2)),
    ("下下周一 1-2节", reads("2026-12-14", 1, 2)),
    ("明天下午第5-6节", reads("2026-12-04", 5, 6)),
    ("本周四 7-8节", reads("2026-12-03", 7, 8)),
    ("第1节到第2节", asks("missing_date", 1, 2)),
    ("第3节和第4节", asks("missing_date", 3, 4)),
    ("三四节", asks("missing_date", 3, 4)),
    ("下周三", asks("missing_periods", "2026-12-09")),
    ("12月10日 第3-4节", reads("2026-12-10", 3, 4)),
    ("2026-12-10 3-4节", reads("2026-12-10", 3, 4)),
    # --- absolute dates ---
    ("12.10 3-4节", reads("2026-12-10", 3, 4)),
    ("12/10 3-4节", reads("2026-12-10", 3, 4)),
    ("12-10 3-4节", reads("2026-12-10", 3, 4)),
    ("2026年12月10日 第3-4节", reads("2026-12-10", 3, 4)),
    ("2026/12/10 3~4节", reads("2026-12-10", 3, 4)),
    ("12月10号 3-4节", reads("2026-12-10", 3, 4)),
    ("十二月十日 三四节", reads("2026-12-10", 3, 4)),
    ("１２月１０日　３～４节", reads("2026-12-10", 3, 4)),
    ("１２．１０　第３－４节", reads("2026-12-10", 3, 4)),
    ("12月10日（周四）第3-4节", reads("2026-12-10", 3, 4)),
    ("12月10日", asks("missing_periods", "2026-12-10")),
    ("12月10日周五 3-4节", asks("choose", "conflict", "2026-12-10", "2026-12-11")),
    ("2027年1月22日 1-2节", reads("2027-01-22", 1, 2)),
    # --- relative days ---
    ("今天 1-2节", reads("2026-12-03", 1, 2)),
    ("明天 3-4节", reads("2026-12-04", 3, 4)),
    ("后天 1-2节", asks("confirm", "2026-12-05", "weekend")),
    ("大后天 1-2节", asks("confirm", "2026-12-06", "weekend")),
    ("昨天 1-2节", asks("confirm", "2026-12-02", "past")),
    ("星期五 3-4节", reads("2026-12-04", 3, 4)),
    ("礼拜五 3，4节", reads("2026-12-04", 3, 4)),
    ("周5 5-6节", reads("2026-12-04", 5, 6)),
    ("这周五 5-6节", reads("2026-12-04", 5, 6)),
    ("周日 1-2节", asks("confirm", "2026-12-06", "weekend")),
    ("星期天 1-2节", asks("confirm", "2026-12-06", "weekend")),
    ("周四 3-4节", asks("choose", "same_weekday", "2026-12-03", "2026-12-10")),
    ("周三 3-4节", asks("choose", "past_weekday", "2026-12-02", "2026-12-09")),
    ("星期1 1-2节", asks("choose", "past_weekday", "2026-11-30", "2026-12-07")),
    ("本周三 1-2节", asks("confirm", "2026-12-02", "past")),
    ("下周三 5、6节", reads("2026-12-09", 5, 6)),
    ("下个星期一 1-2节", reads("2026-12-07", 1, 2)),
    ("下下周五 七八节", reads("2026-12-18", 7, 8)),
    ("上周五 1-2节", asks("confirm", "2026-11-27", "past")),
    ("周四 3-4", asks("choose", "same_weekday", "2026-12-03", "2026-12-10")),
    ("12月10日 3-4", reads("2026-12-10", 3, 4)),  # a day said, so the bare pair is the periods
    ("3-4", refuses("too_far")),  # alone it is 3月4日, shown back in the refusal
    # --- 第N周 against the 校历 ---
    ("第15周周四 3-4节", reads("2026-12-17", 3, 4)),
    ("第十五周星期四七八节", reads("2026-12-17", 7, 8)),
    ("第14周周二 第1-2节", reads("2026-12-08", 1, 2)),
    ("第20周周五 1-2节", reads("2027-01-22", 1, 2)),
    ("第25周周一 1-2节", refuses("no_such_week")),
    ("第15周 3-4节", refuses("week_without_day")),
    # --- periods in every form ---
    ("12月10日 3~4节", reads("2026-12-10", 3, 4)),
    ("12月10日 3、4节", reads("2026-12-10", 3, 4)),
    ("12月10日 3,4节", reads("2026-12-10", 3, 4)),
    ("12月10日 第三四节", reads("2026-12-10", 3, 4)),
    ("12月10日 第3节到第4节", reads("2026-12-10", 3, 4)),
    ("12月10日 第3节和第4节", reads("2026-12-10", 3, 4)),
    ("12月10日 七八节", reads("2026-12-10", 7, 8)),
    ("12月10日 1至2节", reads("2026-12-10", 1, 2)),
    ("12月10日 十一十二节", reads("2026-12-10", 11, 12)),
    ("12月10日 第9到12节", reads("2026-12-10", 9, 12)),
    ("12月10日 第5节", reads("2026-12-10", 5, 5)),
    ("12月10日 一二三四节", reads("2026-12-10", 1, 4)),
    ("12月10日 13节", refuses("out_of_range")),
    ("12月10日 二十节", refuses("out_of_range")),
    ("12月10日 0节", refuses("out_of_range")),
    ("12月10日 4-3节", refuses("backwards")),
    ("12月10日 3、5节", refuses("gap")),
    # --- 上午/下午/晚上 must agree ---
    ("12月10日 上午5-6节", asks("hint", "上午")),
    ("12月10日 下午3-4节", asks("hint", "下午")),
    ("明天早上1-2节", reads("2026-12-04", 1, 2)),
    ("12月10日 晚上9-10节", reads("2026-12-10", 9, 10)),
    ("周五晚上十一十二节", reads("2026-12-04", 11, 12)),
    ("12月10日 上午", asks("missing_periods", "2026-12-10")),
    # --- holidays, vacation, past and far ---
    ("1月1日 1-2节", asks("confirm", "2027-01-01", "holiday")),
    ("2027年1月1日 1-2节", asks("confirm", "2027-01-01", "holiday")),
    ("1月26日 1-2节", asks("confirm", "2027-01-26", "outside_term")),
    ("11月20日 1-2节", asks("confirm", "2026-11-20", "past")),
    ("11月3日 1-2节", asks("confirm", "2026-11-03", "past")),  # exactly 30 days ago: still allowed
    ("11月2日 1-2节", refuses("too_old")),  # 31 days ago
    ("11月1日 1-2节", refuses("too_old")),
    ("10月1日 1-2节", refuses("too_old")),
    ("3月10日 1-2节", refuses("too_far")),  # 2027-03-10: beyond the term and its 寒假
    ("2027-06-01 1-2节", refuses("too_far")),
    ("2026-12-05 1-2节", asks("confirm", "2026-12-05", "weekend")),
    # --- impossible or unreadable ---
    ("2月30日 1-2节", refuses("bad_date")),
    ("2026-02-30 1-2节", refuses("bad_date")),
    ("13月1日 1-2节", refuses("bad_date")),
    ("12月32日 1-2节", refuses("bad_date")),
    ("12月10日 第3", refuses("unclear")),
    ("随便哪天", refuses("nothing")),
]


def test_the_table_is_large_enough():
    assert len(TABLE) >= 60, len(TABLE)


@pytest.mark.parametrize("text,expected", TABLE, ids=[t for t, _ in TABLE])
def test_phrasing(text, expected):
    got = outcome(text)
    kind = expected[0]
    assert got.kind == kind, (text, got)
    if kind == "done":
        _, day, first, last = expected
        assert (got.slot["date"], got.slot["first"], got.slot["last"]) == (day, first, last)
    elif kind == "choose":
        _, why, *days = expected
        assert got.code == why and [o["date"] for o in got.options] == days
    elif kind == "missing_date":
        assert (got.values["first"], got.values["last"]) == expected[1:]
    elif kind == "missing_periods":
        assert got.slot["date"] == expected[1]
    elif kind == "confirm":
        assert got.slot["date"] == expected[1]
        assert expected[2] in [r["code"] for r in got.reasons], got.reasons
    elif kind == "hint":
        assert got.values["part"] == expected[1]
    else:
        assert got.code == expected[1], got


def _say(o: Outcome) -> str:
    if o.kind == "refuse":
        return RENDER.macro("when/refuse.j2", o.code, label="原上课时间", **o.values)
    if o.kind == "done":
        return RENDER.macro("when/echo.j2", "show", s=o.slot)
    return RENDER.macro("when/ask.j2", o.kind, label="原上课时间", outcome=o, **o.values)


def test_echo_names_the_weekday_and_the_teaching_week():
    assert _say(outcome("12月10日 三四节")) == "12月10日（周四）第3-4节（第14教学周）"
    assert _say(outcome("第20周周五 1-2节")) == "2027年1月22日（周五）第1-2节（第20教学周）"
    assert _say(outcome("12月10日 第5节")) == "12月10日（周四）第5节（第14教学周）"


def test_every_answer_has_chinese_words_and_no_template_leak():
    for text, _ in TABLE:
        said = _say(outcome(text))
        assert said and "Macro" not in said and "None" not in said, (text, said)


def test_questions_offer_numbered_choices_and_reasons():
    said = _say(outcome("周三 3-4节"))
    assert "1. 12月2日（周三）第3-4节（第13教学周）（已过去）" in said
    assert "2. 12月9日（周三）第3-4节（第14教学周）" in said
    said = _say(outcome("1月1日 1-2节"))
    assert "元旦" in said and "1. 确定" in said and "2. 重新填写" in said
    said = _say(outcome("1月26日 1-2节"))
    assert "寒假" in said and "第一学期" in said
    said = _say(outcome("12月10日 上午5-6节"))
    assert "上午是第1-4节" in said and "下午" in said


def test_refusals_say_why():
    assert f"{TOO_OLD_DAYS} 天以上" in _say(outcome("11月1日 1-2节"))
    assert "2027年2月28日" in _say(outcome("3月10日 1-2节"))
    assert "没有2月30日" in _say(outcome("2月30日 1-2节"))
    assert "没有第13节" in _say(outcome("12月10日 13节"))
    assert "只有 20 个教学周" in _say(outcome("第25周周一 1-2节"))


def test_answers_fill_in_what_was_missing():
    """A later answer keeps what the earlier one said: '三四节' then '下周三'."""
    first = merge({}, read("三四节", TODAY, SCHOOL.term_of(TODAY)))
    both = merge(first, read("下周三", TODAY, SCHOOL.term_of(TODAY)))
    got = decide(both, TODAY, SCHOOL)
    assert got.kind == "done" and (got.slot["date"], got.slot["first"], got.slot["last"]) == ("2026-12-09", 3, 4)
    # and the other way round: the day known, a bare '3-4' is the periods, not 3月4日
    day = merge({}, read("下周三", TODAY, SCHOOL.term_of(TODAY)))
    more = merge(day, read("3-4", TODAY, SCHOOL.term_of(TODAY), day_known=True))
    got = decide(more, TODAY, SCHOOL)
    assert got.kind == "done" and (got.slot["first"], got.slot["last"]) == (3, 4)
