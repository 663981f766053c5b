"""1.4 代课 over the WeCom callback: the substitute the teacher names gets a card with the day
(周几), periods, class, course and place, and answers 确认 or 无法代课; a refusal reaches the
teacher and the 系部主任 with who refused. A 调课 never asks anyone for that step: it shows
as 不需要. The 调停课记录表 names the teacher, 系部, 工号, 教学周 and 周几."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from models import AuditEntry, Person
from tests.support.flows import TODAY, fill_form, run_of, tasks_of
from tests.support.harness import card_text, card_url, pin_today, settled
from tests.support.pages import download, local
from tests.support.people import HEAD, LEADER, OFFICE_STAFF as OFFICE, SECRETARY_IT, TEACHER

SUBSTITUTE = "cuimin"  # 崔敏, 通识教育部: a substitute from another department


@pytest.fixture(autouse=True)
def _fixed_today(request):
    if "wecom" in request.fixturenames:
        pin_today(request.getfixturevalue("wecom").core, TODAY)


async def submit_cover(w) -> None:
    summary = await fill_form(w, kind="代课")
    assert "代课教师：崔敏（通识教育部）" in summary
    await w.say(TEACHER, "确认")
    assert "已请代课教师崔敏确认" in w.last_text(TEACHER)


async def test_substitute_confirms_then_the_head_approves(wecom):
    w = wecom
    await submit_cover(w)
    card = w.last_card(SUBSTITUTE)
    text = card_text(card)
    assert "请确认代课" in card["main_title"]["title"] and "孙丽婷" in card["main_title"]["title"]
    for line in ("日期:12月3日（周四） 第13教学周", "节次:第3-4节", "班级:计网2401", "课程:电工基础",
                 "地点:实训楼A301", "申请教师:孙丽婷（机电工程系）"):
        assert line in text, text
    assert [b["text"] for b in card["button_list"]] == ["确认", "无法代课"]
    assert not w.cards(HEAD)  # the head signs only once the substitute agreed

    # 待办 lists it, with the same card
    await w.say(SUBSTITUTE, "待办")
    assert "您有 1 项待办" in w.texts(SUBSTITUTE)[-1]
    again = w.last_card(SUBSTITUTE)
    assert again["task_id"] != card["task_id"] and "请确认代课" in again["main_title"]["title"]

    # the teacher sees who holds it up
    await w.say(TEACHER, "进度")
    assert "代课教师确认代课【进行中】" in w.last_text(TEACHER) and "崔敏" in w.last_text(TEACHER)

    await w.click(SUBSTITUTE, card, "确认")
    assert "崔敏" in settled(w.fake.card_updates[-1])  # every copy of the card shows who settled it
    assert "已确认代课" in w.last_text(SUBSTITUTE)
    head_card = w.last_card(HEAD)
    assert "待审批" in head_card["main_title"]["title"] and "已审批：崔敏 已确认代课" in card_text(head_card)
    assert any("崔敏已确认代课。下一步：系部主任审批" in t for t in w.texts(TEACHER))
    await w.say(SUBSTITUTE, "待办")
    assert "没有待办" in w.last_text(SUBSTITUTE)

    await w.click(HEAD, head_card, "同意")
    await w.click(LEADER, w.last_card(LEADER), "同意")
    assert "教务处调整课表" in card_text(w.last_card(OFFICE[0]))


async def test_substitute_cannot_cover_tells_teacher_and_head(wecom):
    w = wecom
    await submit_cover(w)
    card = w.last_card(SUBSTITUTE)
    await w.click(SUBSTITUTE, card, "无法代课")
    assert "请简要说明无法代课的原因" in w.last_text(SUBSTITUTE)
    await w.say(SUBSTITUTE, "当天下午有监考任务")
    assert "崔敏" in settled(w.fake.card_updates[-1])
    assert w.last_text(SUBSTITUTE).startswith("无法代课：")

    told = w.last_card(TEACHER)  # a card with 重新提交: the form again, to name another substitute
    assert told["main_title"]["title"].startswith("无法代课：")
    text = card_text(told)
    assert "崔敏老师无法代课" in text and "当天下午有监考任务" in text and "已同时告知：陈志荣" in text
    assert "可换一位代课教师" in text and [b["text"] for b in told["button_list"]] == ["重新提交"]
    head = w.last_text(HEAD)
    assert "孙丽婷老师的" in head and "代课教师崔敏无法代课" in head and "当天下午有监考任务" in head
    assert not w.cards(HEAD) and not w.cards(LEADER)  # nothing left to sign
    run = await run_of(w, "1.4")
    assert run.status == "rejected"
    await w.say(SUBSTITUTE, "待办")
    assert "没有待办" in w.last_text(SUBSTITUTE)
    await w.click(SUBSTITUTE, card, "确认")  # the old card: already handled
    assert "已处理" in w.last_text(SUBSTITUTE)


async def test_a_substitute_not_in_the_directory_is_asked_again(wecom):
    w = wecom
    async with w.core.db.session() as s:  # a namesake in another 系部
        s.add(Person(userid="cuimin2", name="崔敏", department="机电工程系", roles_text="任课教师"))
        await s.commit()
    for answer in ("代课", "电工基础", "计网2401", "12月3日 第3-4节", "实训楼A301"):
        await w.say(TEACHER, answer)
    await w.say(TEACHER, "崔民")  # a wrong character
    asked = w.last_text(TEACHER)
    assert "通讯录中没有找到代课教师“崔民”，申请还没有提交" in asked
    assert "崔敏（通识教育部，工号 cuimin）" in asked and "请回复正确的姓名或工号" in asked
    await w.say(TEACHER, "崔敏")  # two of that name: which one
    asked = w.last_text(TEACHER)
    assert "有 2 位“崔敏”" in asked and "工号 cuimin2" in asked and "请回复代课教师的工号" in asked
    await w.say(TEACHER, "cuimin")
    await w.say(TEACHER, "外出培训")
    assert "代课教师：崔敏（通识教育部）" in w.last_text(TEACHER)
    assert not w.inbox(SUBSTITUTE)  # nothing sent before 确认


async def test_adjust_marks_the_substitute_step_not_needed(wecom):
    w = wecom
    await fill_form(w)
    await w.say(TEACHER, "确认")
    before = len(w.texts(TEACHER))
    assert "待审批" in w.last_card(HEAD)["main_title"]["title"]  # straight to the head
    run = await run_of(w, "1.4")
    assert all(t.step_id != "substitute" for t in await tasks_of(w, run.id))  # nobody was named, nobody asked
    async with w.core.db.session() as s:
        marks = (await s.execute(select(AuditEntry).where(AuditEntry.run_id == run.id,
                                                          AuditEntry.action == "not_needed"))).scalars().all()
    assert [m.detail for m in marks] == ["代课教师确认代课"]
    await w.say(TEACHER, "进度")
    progress = w.last_text(TEACHER)
    assert "1. 代课教师确认代课【不需要】" in progress and "2. 系部主任审批" in progress
    assert len(w.texts(TEACHER)) == before + 1  # only the 进度 answer: no "waiting" note for the first approval


async def test_record_names_teacher_department_staff_no_week_and_weekday(wecom):
    w = wecom
    await fill_form(w)
    await w.say(TEACHER, "确认")
    await w.click(HEAD, w.last_card(HEAD), "同意")
    await w.click(LEADER, w.last_card(LEADER), "同意")
    await w.click(OFFICE[0], w.last_card(OFFICE[0]), "办结")
    url = card_url(w.last_card(OFFICE[0]))
    page = await w.client.get(local(url))
    html = await page.text()
    assert page.status == 200
    for label, value in (("任课教师", "孙丽婷"), ("系部", "机电工程系"), ("工号", TEACHER),
                         ("原上课教学周", "第13教学周"), ("原上课星期", "周四"),
                         ("调整后教学周", "第13教学周"), ("调整后星期", "周五")):
        assert f"<th style=\"width:32%\">{label}</th><td>{value}</td>" in html, label
    path, _, query = url.partition("?")
    rows = {r[0]: r[1] for r in (await download(w, f"{path}.xlsx?{query}"))[1:]}
    assert rows["任课教师"] == "孙丽婷" and rows["系部"] == "机电工程系" and rows["工号"] == TEACHER
    assert rows["原上课教学周"] == "第13教学周" and rows["原上课星期"] == "周四"
    assert rows["调整后教学周"] == "第13教学周" and rows["调整后星期"] == "周五"
    await w.click(OFFICE[0], w.last_card(OFFICE[0]), "办结")
    assert len(w.cards(SECRETARY_IT)) == 2


async def test_only_the_named_substitute_answers(wecom):
    """The substitute's 确认 is theirs alone: 教务处 can neither skip nor hand it on, nor can a colleague tap it."""
    w = wecom
    await submit_cover(w)
    card = w.last_card(SUBSTITUTE)
    run = await run_of(w, "1.4")
    task = next(t for t in await tasks_of(w, run.id, status="open"))
    assert (task.step_id, task.assignee) == ("substitute", SUBSTITUTE)
    await w.say(OFFICE[0], f"跳过 {run.record_no} 代课教师联系不上")
    assert "不能跳过" in w.last_text(OFFICE[0])
    await w.say(OFFICE[0], f"转派 {task.id} 宋丽萍 代课教师联系不上")
    assert "不能转派" in w.last_text(OFFICE[0])
    await w.click("songlp", card, "确认")  # 通识教育部's head, with the right button key
    assert "不由您处理" in w.last_text("songlp")
    assert [t.status for t in await tasks_of(w, run.id)] == ["open"]
