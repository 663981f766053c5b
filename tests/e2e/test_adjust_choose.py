"""调课 by choosing, over the WeCom callback: a meeting from the demo 课表, then an offered free slot;
and a slot typed by hand that clashes, submitted with a reason, named at the top of the head's card."""
from __future__ import annotations

from datetime import date

from tests.support.harness import card_text, pin_today

TEACHER = "sunlt"  # 孙丽婷: 计算机网络基础 for 计网2401, 周四 3-4节, B202 (bot/demo/timetable.csv)
HEAD = "chenzr"
TODAY = date(2026, 12, 3)  # a Thursday in 第13教学周


async def test_three_taps(wecom):
    w = wecom
    pin_today(w.core, TODAY)
    await w.say(TEACHER, "调课")
    listed = w.last_text(TEACHER)
    assert "1. 12月3日（周四）第3-4节（第13教学周）《计算机网络基础》计网2401 B202" in listed
    assert "12月7日（周一）第7-8节（第14教学周）《机械制图》机电2401 A101" in listed
    assert "12月9日" not in listed  # 周三 机械制图 is 单周 and week 14 is even
    await w.say(TEACHER, "1")
    offered = w.last_text(TEACHER)
    assert "1. 12月4日（周五）第1-2节（第13教学周） B202" in offered
    assert "12月4日（周五）第3-4节" not in offered  # 计网2401 has 大学英语 then
    await w.say(TEACHER, "1")
    assert "原因" in w.last_text(TEACHER)
    await w.say(TEACHER, "参加市级教学能力比赛")
    summary = w.last_text(TEACHER)
    assert "已核对：无冲突" in summary and "课程：计算机网络基础" in summary and "原地点：B202" in summary
    assert "调整后时间：12月4日（周五）第1-2节" in summary and "调整后地点：B202" in summary
    await w.say(TEACHER, "确认")
    assert "已提交" in w.last_text(TEACHER)
    card = card_text(w.last_card(HEAD))
    assert card.index("已核对：无冲突") < card.index("步骤：")


async def test_typed_clash_is_named_on_the_heads_card(wecom):
    w = wecom
    pin_today(w.core, TODAY)
    await w.say(TEACHER, "调课")
    await w.say(TEACHER, "1")
    await w.say(TEACHER, "12月7日 第7-8节")  # she teaches 机械制图 to 机电2401 in A101 then
    await w.say(TEACHER, "A101")
    await w.say(TEACHER, "参加市级教学能力比赛")
    asked = w.last_text(TEACHER)
    assert "任课教师该时段已有《机械制图》（机电2401，A101）" in asked
    assert "教室 A101 该时段已有《机械制图》（机电2401，孙丽婷）" in asked
    await w.say(TEACHER, "已与机电2401协商改到晚上")
    summary = w.last_text(TEACHER)
    assert "有冲突" in summary and "冲突说明：已与机电2401协商改到晚上" in summary
    await w.say(TEACHER, "确认")
    card = card_text(w.last_card(HEAD))
    assert card.index("冲突1：任课教师该时段已有《机械制图》") < card.index("步骤：")
    assert "冲突说明：已与机电2401协商" in card


async def test_pending_request_blocks_the_same_slot(wecom):
    w = wecom
    pin_today(w.core, TODAY)
    await w.say(TEACHER, "调课")
    await w.say(TEACHER, "1")
    await w.say(TEACHER, "1")  # 12月4日 1-2节, B202
    await w.say(TEACHER, "参加比赛")
    await w.say(TEACHER, "确认")
    other = "luoxy"  # 罗晓燕 teaches 软件2401; asks for B202 at the same time
    await w.say(other, "调课")
    await w.say(other, "数据库应用")
    await w.say(other, "软件2401")
    await w.say(other, "12月8日 第5-6节")
    await w.say(other, "B201")
    await w.say(other, "12月4日 第1-2节")
    offered_free = w.last_text(other)
    assert "调整后的地点" in offered_free
    await w.say(other, "B202")
    await w.say(other, "外出培训")
    assert "与待审批的调课申请冲突：孙丽婷《计算机网络基础》计网2401（B202）" in w.last_text(other)


async def test_approved_swap_shows_in_the_week(wecom):
    """Done when: after both approvals, 本周课表 shows the class moved, and 班级课表 and 教室 agree."""
    w = wecom
    pin_today(w.core, TODAY)
    await w.say(TEACHER, "调课")
    await w.say(TEACHER, "1")
    await w.say(TEACHER, "1")  # 12月4日 1-2节, B202
    await w.say(TEACHER, "参加比赛")
    await w.say(TEACHER, "确认")
    await w.click(HEAD, w.last_card(HEAD), "同意")
    await w.click("zhaogm", w.last_card("zhaogm"), "同意")
    await w.say(TEACHER, "本周课表")
    week = w.last_text(TEACHER)
    assert week.startswith("孙丽婷 · 第13教学周（11月30日—12月6日）")
    assert "12/4 周五 1-2节《计算机网络基础》计网2401 B202【调课】" in week
    assert "12/3 周四 3-4节《计算机网络基础》计网2401【已调停】" in week
    await w.say(TEACHER, "下周课表")
    assert "第14教学周" in w.last_text(TEACHER) and "12/10 周四 3-4节" in w.last_text(TEACHER)

    await w.say("guoyan", "班级课表 计网2401")  # 信息工程系 教学秘书
    said = w.last_text("guoyan")
    assert "计网2401 · 第13教学周" in said and "1-2节《计算机网络基础》计网2401 B202 孙丽婷【调课】" in said
    await w.say("linms", "班级课表 计网2401")  # 机电工程系 教学秘书: not their 系部
    assert "只有该系部的教学秘书" in w.last_text("linms")
    await w.say("guoyan", "班级课表 计网9999")
    assert "没有班级" in w.last_text("guoyan")

    await w.say("wangjw", "教室 B202 周五")
    said = w.last_text("wangjw")
    assert "B202 · 第13教学周" in said and "12/4 周五 1-2节" in said and "周四" not in said
    await w.say("wangjw", "教室 B202 礼拜八")
    assert "不是星期几" in w.last_text("wangjw")
    await w.say(TEACHER, "教室 B202")  # a teacher is not 教务处
    assert "B202 ·" not in w.last_text(TEACHER)
