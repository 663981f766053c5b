"""Issue 9, part 4 over the WeCom callback: 有异议 answered (已更正 / 维持) before 1.6 goes on,
重新提交 after 驳回 in two messages, 修改 re-asks what depends on the changed answer, 撤回 asks
which request and names who was told, and every copy of a settled card shows who and when."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from models import CardCopy, Person, Run
from tests.support.flows import TODAY, act_on, fill_form, run_of, tasks_of
from tests.support.harness import card_text, pin_today
from tests.support.people import HEAD, LEADER, OFFICE, OFFICE_STAFF, TEACHER


@pytest.fixture(autouse=True)
def _fixed_today(request):
    if "wecom" in request.fixturenames:
        pin_today(request.getfixturevalue("wecom").core, TODAY)


def updates_for(w, userid: str) -> list[dict]:
    return [u for u in w.fake.card_updates if userid in u["userids"]]


# ----- 1. 有异议 opens a thread ------------------------------------------------------------------
async def test_dispute_corrected_then_confirmed_before_the_step_goes_on(wecom):
    w = wecom
    lines = [{"工号": "hezq", "姓名": "何志强", "课程": "液压传动", "班级": "数控2401", "课时": "24"}]
    async with w.core.db.session() as s:
        await w.core.engine.start_run(s, w.core.specs["1.6"], await s.get(Person, OFFICE),
                                      data={"workload": {"rows": lines}})
        await s.commit()
    await w.core.settle()
    run = await run_of(w, "1.6")
    await w.click("hezq", w.last_card("hezq"), "有异议")
    await w.say("hezq", "实训少算了 8 课时")
    card = w.last_card(OFFICE)
    assert [b["text"] for b in card["button_list"]] == ["已更正", "维持"]
    for task in await tasks_of(w, run.id, status="open"):  # everyone else confirms
        assert await act_on(w, run, task)
    assert (await run_of(w, "1.6")).step_index == 0  # the dispute holds the step open
    await w.say(OFFICE, "进度 1.6")
    assert "有异议待教务处答复 1 件" in w.last_text(OFFICE) and "何志强：实训少算了 8 课时" in w.last_text(OFFICE)

    await w.click(OFFICE, card, "已更正")
    assert "更正后的课时" in w.last_text(OFFICE)
    await w.say(OFFICE, "三十二")
    assert "没看懂" in w.last_text(OFFICE)
    await w.say(OFFICE, "32")
    assert "24 → 32" in w.last_text(OFFICE)
    assert "24 → 32 课时" in w.last_text("hezq") and "再次核对" in w.last_text("hezq")
    again = w.last_card("hezq")  # asked to confirm the corrected line
    assert "液压传动:数控2401 · 32 课时" in card_text(again) and "合计:32 课时" in card_text(again)
    office_copy = updates_for(w, OFFICE)[-1]["template_card"]
    assert office_copy["replace_text"] == "已由王建伟更正"
    await w.click(OFFICE, card, "维持", create_time=int(time.time()) + 5)  # the stale card
    assert "已处理" in w.last_text(OFFICE)

    await w.click("hezq", again, "确认")
    assert (await run_of(w, "1.6")).step_index == 1
    summary = next(t for t in w.texts(OFFICE) if "工作量核对已结束" in t)
    assert "有异议 0 人" in summary


# ----- 2 and 3. 重新提交, and 修改 that re-asks what depends on it --------------------------------
async def reject(w, reason="本周已有两次调课"):
    await w.click(HEAD, w.last_card(HEAD), "驳回")
    await w.say(HEAD, reason)
    return w.last_card(TEACHER)


async def test_resubmit_after_reject_takes_two_messages(wecom):
    w = wecom
    await fill_form(w)
    await w.say(TEACHER, "确认")
    rejected = await reject(w)
    mark = w.mark()
    await w.click(TEACHER, rejected, "重新提交")  # 1
    summary = w.last_text(TEACHER)
    assert "已按您上次的申请" in summary and "请核对调停课申请" in summary and "电工基础" in summary
    await w.say(TEACHER, "确认")  # 2
    assert "已提交" in w.last_text(TEACHER)
    assert len(w.since(mark, TEACHER)) == 2
    new = await run_of(w, "1.4")
    assert new.status == "open" and new.data["form"]["resubmit_of"] == new.id - 1
    await w.click(TEACHER, rejected, "重新提交", create_time=int(time.time()) + 5)
    assert "已处理" in w.last_text(TEACHER)


async def test_changed_original_place_reasks_new_place_answered_unchanged(wecom):
    w = wecom
    await fill_form(w)
    await w.say(TEACHER, "确认")
    await reject(w, "地点不对")
    await w.say(TEACHER, "重新提交")
    assert "5. 原地点：实训楼A301" in w.last_text(TEACHER) and "7. 调整后地点：实训楼A301" in w.last_text(TEACHER)
    await w.say(TEACHER, "修改 5")
    await w.say(TEACHER, "实训楼B202")
    asked = w.last_text(TEACHER)  # 调整后地点 was 不变: it meant the old 原地点, so it is asked again
    assert "调整后的地点" in asked and "原地点现为实训楼B202" in asked
    await w.say(TEACHER, "不变")
    summary = w.last_text(TEACHER)
    assert "5. 原地点：实训楼B202" in summary and "7. 调整后地点：实训楼B202" in summary
    await w.say(TEACHER, "确认")
    assert (await run_of(w, "1.4")).data["form"]["new_place"] == "实训楼B202"


# ----- 4. 撤回 asks which one, and says who was told ------------------------------------------------
async def test_withdraw_with_two_pending_asks_which_and_names_who_was_told(wecom):
    w = wecom
    await fill_form(w)
    await w.say(TEACHER, "确认")
    first_card = w.last_card(HEAD)
    await fill_form(w, kind="停课")
    await w.say(TEACHER, "确认")
    await w.say(TEACHER, "撤回")
    ask = w.last_text(TEACHER)
    assert "要撤回哪一份" in ask and ask.count("12月3日（周四）第3-4节") == 2
    await w.say(TEACHER, "2")  # the older one, the 调课
    said = w.last_text(TEACHER)
    assert "已撤回" in said and "已告知陈志荣" in said
    runs = await _runs(w, "1.4")
    assert [r.status for r in runs] == ["cancelled", "open"]
    head_copy = updates_for(w, HEAD)[-1]["template_card"]  # no live 同意/驳回 on the head's phone
    assert head_copy["replace_text"] == "已由孙丽婷撤回" and "已由孙丽婷撤回" in head_copy["sub_title_text"]
    await w.click(HEAD, first_card, "同意", create_time=int(time.time()) + 5)
    assert "已处理" in w.last_text(HEAD)


async def test_withdraw_with_nobody_to_tell_says_so(wecom):
    w = wecom
    await w.say(OFFICE, "启动 1.7")
    await w.say(OFFICE, "1")
    await w.say(OFFICE, "撤回")
    said = w.last_text(OFFICE)
    assert "已撤回" in said and "无需通知任何人" in said and "已通知相关审批人" not in said


async def _runs(w, code: str) -> list[Run]:
    async with w.core.db.session() as s:
        return list((await s.execute(select(Run).where(Run.code == code).order_by(Run.id))).scalars())


# ----- 5. every copy of a settled card shows who and when ------------------------------------------
async def test_shared_task_done_by_one_updates_the_others_copy(wecom):
    w = wecom
    await fill_form(w)
    await w.say(TEACHER, "确认")
    await w.click(HEAD, w.last_card(HEAD), "同意")
    await w.click(LEADER, w.last_card(LEADER), "同意")
    mine, theirs = w.last_card(OFFICE_STAFF[0]), w.last_card(OFFICE_STAFF[1])
    assert [b["text"] for b in mine["button_list"]] == ["办结"]  # an action is a verb
    await w.click(OFFICE_STAFF[0], mine, "办结")
    other = updates_for(w, OFFICE_STAFF[1])[-1]["template_card"]
    assert other["replace_text"] == "已由王建伟办结" and "已由王建伟办结 · " in other["sub_title_text"]
    own = updates_for(w, OFFICE_STAFF[0])[-1]["template_card"]
    assert own["replace_text"] == "已由王建伟办结"
    await w.click(OFFICE_STAFF[1], theirs, "办结")
    assert "已处理" in w.last_text(OFFICE_STAFF[1])
    subject = ":".join(theirs["button_list"][0]["key"].split(":")[:2])  # task:N
    async with w.core.db.session() as s:
        copies = (await s.execute(select(CardCopy).where(CardCopy.subject == subject))).scalars().all()
    assert copies and all(c.settled.startswith("已由王建伟办结") for c in copies)
