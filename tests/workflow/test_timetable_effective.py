"""The effective timetable on the shipped 校历 (调休, holidays), conflicts and free slots."""
from __future__ import annotations

import datetime as dt

import pytest

from bot.render import Renderer
from models import TimetableMeeting
from workflow.calendar import DEFAULT_CALENDAR_FILE, SchoolCalendar
from workflow.timetable.conflicts import Wanted, free_slots, slot_conflicts
from workflow.timetable.effective import Change, base_occurrences, effective

D = dt.date


@pytest.fixture(scope="module")
def cal() -> SchoolCalendar:
    return SchoolCalendar.load(DEFAULT_CALENDAR_FILE)


def _m(id, teacher, course, classes, weekday, first, last, room, weeks=range(1, 17)) -> TimetableMeeting:
    return TimetableMeeting(id=id, term="2026-2027-1", source_row=id + 1, teacher_userid=teacher,
                            teacher_name={"li": "李明", "wang": "王芳", "zhao": "赵强"}[teacher], course=course,
                            classes_text=";".join(classes), weekday=weekday, first_period=first, last_period=last,
                            weeks_text=",".join(map(str, weeks)), room=room)


MEETINGS = [
    _m(1, "li", "大学英语", ["信息2301", "信息2302"], 2, 3, 4, "B202"),  # 合班, 周二 3-4
    _m(2, "wang", "高等数学", ["信息2301"], 3, 1, 2, "A201", weeks=range(1, 16, 2)),  # 周三 1-2 单周
    _m(3, "zhao", "电工基础", ["机电2401"], 4, 5, 6, "A201"),  # 周四 5-6
    _m(4, "li", "英语听说", ["会计2401"], 1, 1, 2, "B202"),  # 周一 1-2
]


def test_tiaoxiu_days_follow_the_named_weekday(cal):
    assert cal.classes_weekday(D(2026, 9, 20)) == 2  # Sunday 调休: 周二's classes
    assert cal.classes_weekday(D(2026, 10, 10)) == 3  # Saturday 调休: 周三's classes
    assert cal.classes_weekday(D(2026, 10, 6)) is None  # 国庆节
    assert cal.classes_weekday(D(2026, 9, 25)) is None  # 中秋节 (a Friday)
    assert cal.classes_weekday(D(2027, 1, 31)) is None  # a 调休 day that names no weekday
    assert cal.classes_weekday(D(2026, 12, 10)) == 4
    occ = base_occurrences(MEETINGS, cal, D(2026, 9, 19), D(2026, 10, 11))
    days = {(o.date, o.course) for o in occ}
    assert (D(2026, 9, 20), "大学英语") in days  # the Sunday holds 周二's 合班
    assert (D(2026, 10, 10), "高等数学") in days  # week 5 is odd: 周三 单周 held on the Saturday
    assert not any(D(2026, 10, 1) <= o.date <= D(2026, 10, 7) for o in occ)
    assert all(o.week == cal.teaching_week(o.date)[1] for o in occ)


def test_approved_changes_move_cancel_and_substitute(cal):
    swap = Change(7, "调课", "li", "李明", "大学英语", "信息2301", D(2026, 12, 8), 3, 4,
                  D(2026, 12, 10), 1, 2, "B202")
    stop = Change(8, "停课", "zhao", "赵强", "电工基础", "机电2401", D(2026, 12, 10), 5, 6)
    sub = Change(9, "代课", "li", "李明", "英语听说", "会计2401", D(2026, 12, 7), 1, 2,
                 substitute_userid="wang", substitute_name="王芳")
    week = effective(MEETINGS, [swap, stop, sub], cal, D(2026, 12, 7), D(2026, 12, 13))
    got = {(o.date, o.course, o.first, o.teacher_userid, o.change) for o in week}
    assert (D(2026, 12, 10), "大学英语", 1, "li", "调入") in got
    assert not any(o.date == D(2026, 12, 8) and o.course == "大学英语" for o in week)
    assert not any(o.course == "电工基础" for o in week)
    assert (D(2026, 12, 7), "英语听说", 1, "wang", "代课") in got
    moved = next(o for o in week if o.change == "调入")
    assert moved.classes == ("信息2301", "信息2302")  # the 合班 moves whole


def test_conflicts_teacher_class_room_pending_and_calendar(cal):
    occ = effective(MEETINGS, [], cal, D(2026, 12, 7), D(2026, 12, 20))
    moving = next(o for o in occ if o.course == "大学英语" and o.date == D(2026, 12, 8))
    r = Renderer()

    def said(w, pending=()):
        return [r.macro("timetable/conflicts.j2", c.code, **c.values) for c in slot_conflicts(w, occ, pending, cal)]

    # 周三 12-09 is week 14 (even): 高等数学 is 单周, so 1-2 is free for 信息2301 that week
    assert said(Wanted(D(2026, 12, 9), 1, 2, "li", ("信息2301", "信息2302"), "B202", moving)) == []
    # week 15 (odd): 信息2301 has 高等数学 — the second class of the 合班 is checked too
    assert said(Wanted(D(2026, 12, 16), 1, 2, "li", ("信息2302", "信息2301"), "B202", moving)) == [
        "信息2301 该时段已有《高等数学》（A201，王芳）"]
    assert said(Wanted(D(2026, 12, 7), 1, 2, "li", ("信息2301",), "C101", moving)) == [
        "任课教师该时段已有《英语听说》（会计2401，B202）"]
    assert said(Wanted(D(2026, 12, 10), 5, 6, "li", ("信息2301",), "A201", moving)) == [
        "教室 A201 该时段已有《电工基础》（机电2401，赵强）"]
    other = Change(5, "调课", "wang", "王芳", "高等数学", "信息2302", D(2026, 12, 9), 1, 2,
                   D(2026, 12, 11), 3, 4, "A305")
    assert said(Wanted(D(2026, 12, 11), 3, 4, "li", ("信息2301", "信息2302"), "B202", moving), [other]) == [
        "与待审批的调课申请冲突：王芳《高等数学》信息2302（A305）"]
    assert said(Wanted(D(2026, 10, 5), 1, 2, "li", (), "", None)) == ["该日是国庆节假期"]
    assert said(Wanted(D(2026, 12, 12), 1, 2, "li", (), "", None)) == ["该日是休息日，不上课"]
    assert said(Wanted(D(2027, 1, 19), 1, 2, "li", (), "", None)) == ["第20周是考试周"]
    assert said(Wanted(D(2027, 2, 1), 1, 2, "li", (), "", None)) == ["该日不在本学期教学周内"]


def test_free_slots_are_truly_free(cal):
    occ = effective(MEETINGS, [], cal, D(2026, 12, 7), D(2027, 1, 10))
    moving = next(o for o in occ if o.course == "大学英语" and o.date == D(2026, 12, 8))
    pending = [Change(5, "调课", "wang", "王芳", "高等数学", "信息2302", D(2026, 12, 9), 1, 2,
                      D(2026, 12, 8), 1, 2, "A305")]
    w = Wanted(moving.date, moving.first, moving.last, "li", moving.classes, moving.room, moving)
    slots = free_slots(w, occ, pending, cal, D(2026, 12, 7))
    assert len(slots) == 5
    assert (D(2026, 12, 7), 1, 2) not in slots  # li teaches 英语听说 then
    assert (D(2026, 12, 8), 1, 2) not in slots  # a pending request takes 信息2302 then
    assert (D(2026, 12, 8), 3, 4) not in slots  # where it is now
    for day, first, last in slots:
        probe = Wanted(day, first, last, "li", moving.classes, moving.room, moving)
        assert slot_conflicts(probe, occ, pending, cal) == []
        assert day.weekday() < 5 and last - first == 1
