"""1.4 调停课 end to end over the WeCom protocol: a teacher's form, two approvals,
教务处's tasks, the record, the 教学秘书's confirmation; 驳回, 撤回, double taps
and wrong approvers. Every person is from the imported directory."""
from __future__ import annotations

import time
from datetime import date

import pytest

from tests.support.flows import fill_form
from tests.support.harness import card_text, card_url, pin_today, settled
from tests.support.people import HEAD, LEADER, OFFICE_STAFF as OFFICE, OTHER_HEAD, SECRETARY_IT, TEACHER

TODAY = date(2026, 12, 3)  # a Thursday in 第13教学周 of the shipped 校历


@pytest.fixture(autouse=True)
def _fixed_today(request):
    """Dates typed below (12月3日, 12月4日) are read against a fixed today."""
    if "wecom" in request.fixturenames:
        pin_today(request.getfixturevalue("wecom").core, TODAY)


async def test_full_path_approved(wecom):
    w = wecom
    await fill_form(w)
    before_submit = w.fake.delivery_counts()[TEACHER]
    await w.say(TEACHER, "确认")
    assert "已提交" in w.last_text(TEACHER)
    card = w.last_card(HEAD)
    assert "待审批" in card["main_title"]["title"] and "电工基础" in card_text(card)
    # the head's card names the step by its label, never the handbook's instruction to the teacher
    assert "系部主任审批" in card_text(card) and "填写调停课申请表" not in card_text(card)
    assert not w.cards(OTHER_HEAD)  # only the teacher's own 系部主任

    # a wrong approver cannot decide, even with the right button key
    await w.click(OTHER_HEAD, card, "同意")
    assert "不由您处理" in w.last_text(OTHER_HEAD)

    await w.click(HEAD, card, "同意")
    assert settled(w.fake.card_updates[-1]) == "已由陈志荣同意"
    assert "已同意" in w.last_text(HEAD)
    # double tap on the same card: nothing changes, the approver is told 已处理
    before = len(w.cards(LEADER))
    await w.click(HEAD, card, "同意", create_time=int(time.time()) + 5)
    assert "已处理" in w.last_text(HEAD)
    assert len(w.cards(LEADER)) == before == 1

    leader_card = w.last_card(LEADER)
    assert "陈志荣" in card_text(leader_card)  # the first approval shows with name
    await w.click(LEADER, leader_card, "同意")
    assert "赵国民已同意" in w.last_text(TEACHER) and "教务处调整课表" in w.last_text(TEACHER)

    # 教务处: both staff get the task; the first to finish closes it for both
    task_card = w.last_card(OFFICE[0])
    stale = w.last_card(OFFICE[1])
    assert "教务处调整课表" in card_text(task_card) and "教务处调整课表" in card_text(stale)
    await w.click(OFFICE[0], task_card, "办结")
    # the record step: a task whose card links to the printable record
    record_card = w.last_card(OFFICE[0])
    assert "教务处盖章记录表" in card_text(record_card)
    assert record_card.get("card_action", {}).get("url", "").startswith("http://campusbot.test/record/") or \
        any("record" in j.get("url", "") for j in record_card.get("jump_list", []))
    await w.click(OFFICE[1], stale, "办结")  # liuyf taps the adjust card late
    assert "已处理" in w.last_text(OFFICE[1])
    await w.click(OFFICE[0], record_card, "办结")

    # the 教学秘书 of the class's 系部 gets the record and confirms 已通知班级
    sec_cards = w.cards(SECRETARY_IT)
    assert len(sec_cards) == 2
    confirm = sec_cards[-1]
    await w.click(SECRETARY_IT, confirm, "确认已通知")

    # One message per decision: submitted, 系部主任 同意, 分管领导 同意, and done with the record.
    teacher = w.inbox(TEACHER)[before_submit:]
    assert len(teacher) == 4, [m["content"] for m in teacher]
    assert "已提交" in teacher[0]["content"]
    assert "陈志荣已同意" in teacher[1]["content"] and "赵国民已同意" in teacher[2]["content"]
    done = teacher[3]["card"]
    assert "已办结" in done["main_title"]["title"] and "/record/" in card_url(done)
    assert "领取纸质调停课记录表" in card_text(done) and "信息工程系" in card_text(done)
    # the 工作标准 checklist goes to 教务处, who did the work, never to the teacher
    assert not any("工作标准" in m["content"] for m in w.inbox(TEACHER))
    assert any("工作标准" in t and "已全部办结" in t for t in w.texts(OFFICE[0]))
    assert not any("工作标准" in t for t in w.texts(OFFICE[1]))


async def test_reject_asks_reason_and_tells_teacher(wecom):
    w = wecom
    await fill_form(w, kind="停课")
    await w.say(TEACHER, "确认")
    card = w.last_card(HEAD)
    await w.click(HEAD, card, "驳回")
    assert "理由" in w.last_text(HEAD)
    await w.say(HEAD, "本周已有两次调课")
    assert "已驳回" in w.last_text(HEAD)
    rejected = w.last_card(TEACHER)  # one card, with 重新提交
    assert "驳回" in rejected["main_title"]["title"] and "本周已有两次调课" in card_text(rejected)
    assert [b["text"] for b in rejected["button_list"]] == ["重新提交"]
    assert not w.cards(LEADER)


async def test_withdraw_while_pending(wecom):
    w = wecom
    await fill_form(w)
    await w.say(TEACHER, "确认")
    card = w.last_card(HEAD)
    await w.say(TEACHER, "撤回")
    assert "已撤回" in w.last_text(TEACHER) and "已告知陈志荣" in w.last_text(TEACHER)
    assert "撤回" in w.last_text(HEAD)
    await w.click(HEAD, card, "同意", create_time=int(time.time()) + 5)
    assert "已处理" in w.last_text(HEAD)
    assert not w.cards(LEADER)


async def test_form_validation_and_correction(wecom):
    w = wecom
    await w.say(TEACHER, "调停课")
    assert "类型" in w.last_text(TEACHER)
    await w.say(TEACHER, "换课")
    assert "1、2、3" in w.last_text(TEACHER)
    await w.say(TEACHER, "3")  # 代课
    await w.say(TEACHER, "高等数学")
    await w.say(TEACHER, "不存在的班")
    assert "没有班级" in w.last_text(TEACHER)
    await w.say(TEACHER, "机电2401")
    await w.say(TEACHER, "2月30日 第1节")
    assert "没有2月30日这一天" in w.last_text(TEACHER)
    await w.say(TEACHER, "12月3日")
    assert "12月3日（周四）第几节" in w.last_text(TEACHER)
    await w.say(TEACHER, "12月3日 第1-2节")
    await w.say(TEACHER, "教学楼101")
    await w.say(TEACHER, "孙丽婷")
    assert "不能是您自己" in w.last_text(TEACHER)
    await w.say(TEACHER, "何志强")
    await w.say(TEACHER, "外出培训")
    summary = w.last_text(TEACHER)
    assert "何志强" in summary
    await w.say(TEACHER, "修改 2")
    await w.say(TEACHER, "机械制图")
    assert "机械制图" in w.last_text(TEACHER)
    await w.say(TEACHER, "取消")
    assert "已取消" in w.last_text(TEACHER)
    assert not w.cards(HEAD)


async def test_restart_mid_form_resumes(wecom, wecom_settings, aiohttp_client):
    from bot.app import create_app
    from tests.support.harness import WeComHarness

    w = wecom
    await w.say(TEACHER, "调课")
    await w.say(TEACHER, "电工基础")
    # a new process over the same database
    app2 = create_app(wecom_settings, "serve", start_workers=False, clock=w.core.clock)
    from bot.app import CORE

    client2 = await aiohttp_client(app2)
    w2 = WeComHarness(client2, app2[CORE], w.fake)
    await w2.say(TEACHER, "计网2401")
    assert "原上课日期" in w2.last_text(TEACHER)


async def test_retry_has_one_effect(wecom):
    w = wecom
    await w.say(TEACHER, "帮助", msg_id=777001)
    n = len(w.texts(TEACHER))
    await w.say(TEACHER, "帮助", msg_id=777001)  # WeCom retry: same MsgId
    assert len(w.texts(TEACHER)) == n


async def test_stranger_gets_one_refusal(wecom):
    w = wecom
    await w.say("nobody", "你好")
    await w.say("nobody", "在吗")
    assert len(w.texts("nobody")) == 1
    assert "通讯录" in w.texts("nobody")[0]


async def test_own_request_cannot_be_approved_by_self(wecom):
    """A 系部主任 who teaches files a request: it goes past them, never to them."""
    w = wecom
    await fill_form(w, userid=HEAD)
    await w.say(HEAD, "确认")
    assert not w.cards(HEAD)
