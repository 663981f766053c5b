"""通知 by 教务处 staff: audience by roles and 系部, 确认收到, 进度 and 催办."""
from __future__ import annotations

from tests.support.flows import compose

OFFICE = "wangjw"
SECRETARIES = {"linms", "guoyan", "caiqh", "yeqing"}


async def test_notice_confirm_progress_remind(wecom):
    w = wecom
    await compose(w)
    assert "共 4 人" in w.last_text(OFFICE)
    for sec in SECRETARIES:
        card = w.last_card(sec)
        assert card["main_title"]["title"] == "教务处通知"
    assert not w.cards("chenzr")  # a 系部主任 is not in the audience

    await w.click("linms", w.last_card("linms"), "确认收到")
    assert "已确认收到通知（通知" in w.last_text("linms")
    assert w.fake.card_updates and w.fake.card_updates[-1]["button"]["replace_name"] == "已确认"
    await w.click("linms", w.last_card("linms"), "确认收到", create_time=2_000_000_000)  # tapped again, later
    assert "无需重复操作" in w.last_text("linms")
    await w.click("chenzr", w.last_card("linms"), "确认收到")  # not in the audience
    assert "不由您处理" in w.last_text("chenzr")
    await w.click("guoyan", w.last_card("guoyan"), "确认收到")

    await w.say(OFFICE, "进度")
    progress = w.last_text(OFFICE)
    assert "已确认 2/4" in progress
    assert "已读" not in progress  # WeCom cannot tell who read a message
    assert "经济管理系：已确认 0，未确认 1（蔡琴华）" in progress
    assert "机电工程系：已确认 1，未确认 0" in progress

    mark = w.mark()
    await w.say(OFFICE, "催办")
    again = {m["userid"] for m in w.since(mark) if m["card"]}
    assert again == {"caiqh", "yeqing"}
    assert "【催办】" in w.last_card("caiqh")["main_title"]["title"]
    assert "蔡琴华" in w.last_text(OFFICE)


async def test_audience_by_department_and_role(wecom):
    w = wecom
    await compose(w, audience="机电工程系辅导员", deadline="12月30日", confirm="否")
    assert "共 2 人" in w.last_text(OFFICE)
    # without 需确认 there is nothing to tap: it arrives as a plain message
    for counselor in ("huangfd", "zhoujs"):
        assert "请于周五前提交期末试卷" in w.last_text(counselor)
    assert not w.inbox("tangwj")


async def test_bad_audience_and_deadline_are_explained(wecom):
    w = wecom
    await w.say(OFFICE, "通知")
    await w.say(OFFICE, "明天停电")
    await w.say(OFFICE, "火星系")
    assert "没有看懂：火星系" in w.last_text(OFFICE)
    await w.say(OFFICE, "全体")
    await w.say(OFFICE, "下周")
    assert "没有看懂这个时间" in w.last_text(OFFICE)
    await w.say(OFFICE, "取消")
    assert "已取消" in w.last_text(OFFICE)


async def test_only_office_may_send_notices(wecom):
    w = wecom
    await w.say("sunlt", "通知")
    assert "暂无此权限" in w.last_text("sunlt")


async def test_todo_lists_open_items_with_actions(wecom):
    w = wecom
    await compose(w)
    await w.say("caiqh", "待办")
    assert "1 项待办" in w.texts("caiqh")[-1]
    card = w.last_card("caiqh")
    await w.click("caiqh", card, "确认收到")
    await w.say("caiqh", "待办")
    assert "没有待办" in w.last_text("caiqh")


async def test_help_depends_on_roles(wecom):
    w = wecom
    await w.say("sunlt", "帮助")
    teacher = w.last_text("sunlt")
    assert "调停课" in teacher or "调课" in teacher
    assert "通知 —" not in teacher
    await w.say(OFFICE, "帮助")
    office = w.last_text(OFFICE)
    assert "通知 —" in office and "催办" in office


async def test_notices_and_runs_number_apart(wecom):
    """A notice is 通知N; a run keeps its own numbers, whatever was sent in between."""
    w = wecom
    await compose(w, text="第一条通知")
    assert "通知1" in w.last_text(OFFICE)
    await w.say(OFFICE, "启动 1.1")
    assert "1.1-2026-0001" in w.last_text(OFFICE)
    await compose(w, text="第二条通知")
    assert "通知2" in w.last_text(OFFICE)
    await w.say(OFFICE, "启动 1.2")
    assert "1.2-2026-0001" in w.last_text(OFFICE)
    assert any("通知2" in str(c) for c in w.cards("caiqh"))  # the secretary's card carries the number
