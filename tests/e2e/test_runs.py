"""Runs of the handbook workflows over the WeCom callback: each kind of step,
a 系部 missing at the join, 催办, 转派, 跳过, a restart mid-run, several runs of
one workflow at once — and every one of the 45 workflows (every flow of those
with branches) walked from 启动 to 已全部办结 by acting on each card as its
assignee would, over WeCom and again over the local chat's HTTP API."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from workflow.registry import default_specs
from models import AuditEntry, Run
from tests.support.files import JPEG, xlsx
from tests.support.flows import act_on, fill_form, finish_office_tasks, run_of, run_of_id, tasks_of
from tests.support.harness import card_text, card_url, settled
from tests.support.pages import upload
from tests.support.people import OFFICE, SECRETARIES

# ----- walking a run the way its people would ------------------------------------------------------
# Who starts a flow when 教务处 cannot: flows about one 系部's own request.
STARTERS = {("1.4", "main"): "sunlt", ("2.11", "fault"): "linms", ("2.11", "temp_use"): "linms"}


async def walk(w, run: Run, *, limit: int = 60) -> Run:
    for _ in range(limit):
        run = await run_of_id(w, run.id)
        if run.status != "open":
            return run
        acted = False
        for task in await tasks_of(w, run.id, status="open"):
            if task.id not in {t.id for t in await tasks_of(w, run.id, status="open")}:
                continue  # closed by another's act just now: its card shows who, with no live button
            acted = await act_on(w, run, task) or acted
        assert acted, f"{run.code} {run.flow_id}: nobody can act at step {run.step_index + 1}"
    raise AssertionError(f"{run.code} did not finish")


def all_flows():
    return [pytest.param(code, flow.id, id=f"{code}-{flow.id}")
            for code, spec in default_specs().items() for flow in spec.all_flows()]


def _features(spec, flow) -> set[str]:
    """What a walk of ``flow`` exercises: each step's kind, join, form, data handler, condition,
    dispute mode and columns, each assignee rule, the start form."""
    found = {f"start:{spec.start_form}"}
    for step in flow.steps:
        found |= {f"kind:{step.kind}", f"join:{step.join}", f"form:{step.form}", f"handler:{step.handler}",
                  f"when:{step.when is not None}", f"disputes:{step.disputes}", f"columns:{bool(step.columns)}"}
        found |= {f"who:{a.party}/{a.role}/{a.scope}/{a.answer}" for a in step.assignees}
    return found


def covering_flows() -> list[tuple[str, str]]:
    """A few flows that together exercise every feature any flow has (greedy set cover, in code order)."""
    features = {(code, flow.id): _features(spec, flow)
                for code, spec in default_specs().items() for flow in spec.all_flows()}
    left = set().union(*features.values())
    chosen: list[tuple[str, str]] = []
    while left:
        best = max(features, key=lambda key: len(features[key] & left))
        chosen.append(best)
        left -= features[best]
    return chosen


def walks():
    """Every flow on SQLite; on PostgreSQL the covering few (the SQL is the same for all flows, and the
    whole matrix twice cost CI minutes: ``CAMPUSBOT_TEST_EVERY_WALK=1`` walks all of them on both)."""
    import os
    on_postgres = ([(c, f) for c, spec in default_specs().items() for f in (x.id for x in spec.all_flows())]
                   if os.environ.get("CAMPUSBOT_TEST_EVERY_WALK") else covering_flows())
    return ([pytest.param("sqlite", p.values[0], p.values[1], id=f"sqlite-{p.id}") for p in all_flows()]
            + [pytest.param("postgresql", code, flow_id, id=f"postgresql-{code}-{flow_id}")
               for code, flow_id in on_postgres])


@pytest.mark.parametrize("db_url,code,flow_id", walks(), indirect=["db_url"])
async def test_every_workflow_walks_to_its_end(wecom, code, flow_id):
    await start_and_walk(wecom, code, flow_id)


@pytest.mark.parametrize("code,flow_id", all_flows())
async def test_every_workflow_walks_to_its_end_in_the_local_chat(devchat, code, flow_id):
    """The same walk over the local chat's HTTP API (``campusbot demo``)."""
    await start_and_walk(devchat, code, flow_id)


async def start_and_walk(w, code: str, flow_id: str) -> None:
    """Start one flow as its starter would, walk it to its end, and check nobody was skipped."""
    spec = w.core.specs[code]
    starter = STARTERS.get((code, flow_id), OFFICE)
    if spec.start_form == "adjust_class":
        await fill_form(w, starter)
        await w.say(starter, "确认")
    else:
        flow = spec.flow(flow_id)
        await w.say(starter, f"启动 {code} {flow.name}" if spec.flows else f"启动 {code}")
    run = await run_of(w, code)
    assert run is not None and run.flow_id == flow_id, w.last_text(starter)
    run = await walk(w, run)
    assert run.status == "done"
    # the end reaches the starter: 已全部办结, or (调停课) the teacher's card with the record
    assert any("已全部办结" in m["content"] or "已办结" in m["content"] for m in w.inbox(starter))
    async with w.core.db.session() as s:
        actions = set((await s.execute(select(AuditEntry.action).where(AuditEntry.run_id == run.id))).scalars())
    assert "no_assignee" not in actions and "skip" not in actions, [t for t in w.texts(OFFICE) if "找不到办理人" in t]


# ----- each kind of step, scripted ---------------------------------------------------------------
async def test_notice_upload_approve_task_and_reject(wecom):
    """2.14 学生专业技能大赛: 通知 → 每个系部上传 → 教务处审批 → 系部办理 → 教务处驳回."""
    w = wecom
    await w.say(OFFICE, "启动 2.14")
    assert "已启动：学生专业技能大赛" in w.last_text(OFFICE)
    for secretary in SECRETARIES.values():  # the notice needs no action: it arrives as a message
        assert any("通知：学生专业技能大赛" in t and "公布竞赛信息" in t for t in w.texts(secretary))
    card = w.last_card("linms")
    assert "请上传" in card["main_title"]["title"] and not card.get("button_list")
    status, html = await upload(w, card_url(card), xlsx(["项目"], ["数控车"]), "申报.xlsx")
    assert status == 422 and "不支持 .xlsx 文件" in html
    await w.image("linms", JPEG)  # this step takes documents only: the person is sent to the page
    back = w.last_card("linms")  # a card whose button opens the page, never a raw link in text
    assert "不能用图片代替" in card_text(back) and "/upload/" in card_url(back)
    for secretary in SECRETARIES.values():
        status, _ = await upload(w, card_url(w.last_card(secretary)), b"%PDF-1.4\n%x\n", "申报书.pdf")
        assert status == 200
    approve = w.last_card(OFFICE)
    assert "待审批" in approve["main_title"]["title"]
    assert [b["text"] for b in approve["button_list"]] == ["同意", "驳回"]
    await w.click(OFFICE, approve, "同意")
    assert settled(w.fake.card_updates[-1]) == "已由王建伟同意"
    for secretary in SECRETARIES.values():
        task_card = w.last_card(secretary)
        assert "选拔与训练" in card_text(task_card)
        await w.click(secretary, task_card, "办结")
    final = w.last_card(OFFICE)
    await w.click(OFFICE, final, "驳回")
    await w.say(OFFICE, "获奖证书复印件不全")
    run = await run_of(w, "2.14")
    assert run.status == "rejected"
    assert any("获奖证书复印件不全" in t for t in w.texts(OFFICE))


async def test_confirm_step(wecom):
    """3.12 教学计划审核: three notices, then each 系部 confirms it has checked the plan."""
    w = wecom
    await w.say(OFFICE, "启动 3.12")
    card = w.last_card("guoyan")
    assert "请确认" in card["main_title"]["title"] and [b["text"] for b in card["button_list"]] == ["确认"]
    await w.click("guoyan", card, "确认")
    assert "已确认" in w.last_text("guoyan")
    assert settled(w.fake.card_updates[-1]) == "已由郭燕确认"
    assert (await run_of(w, "3.12")).step_index == 3  # waits for the other two 系部


# ----- people behind, 催办, 转派, 跳过 ------------------------------------------------------------------
async def test_missing_department_remind_reassign_skip(wecom):
    w = wecom
    await w.say(OFFICE, "启动 4.7")
    run = await run_of(w, "4.7")
    await finish_office_tasks(w, run)
    await w.click("linms", w.last_card("linms"), "办结")

    await w.say(OFFICE, "进度 4.7")
    progress = w.last_text(OFFICE)
    assert "2. 培训学习委员【进行中】" in progress
    assert "机电工程系：已完成" in progress
    assert "信息工程系：未完成（郭燕）" in progress and "经济管理系：未完成（蔡琴华）" in progress
    assert "通识教育部：未完成（叶青）" in progress  # a teaching department like the others
    assert (await run_of(w, "4.7")).step_index == 1  # the step waits for them

    mark = w.mark()
    await w.say(OFFICE, "催办 4.7")
    again = [m for m in w.since(mark) if m["card"]]
    assert {m["userid"] for m in again} == {"guoyan", "caiqh", "yeqing"}
    assert all("【催办】" in m["card"]["main_title"]["title"] for m in again)
    assert "郭燕" in w.last_text(OFFICE) and "蔡琴华" in w.last_text(OFFICE) and "叶青" in w.last_text(OFFICE)

    stale = w.last_card("guoyan")
    guoyan_task = next(t for t in await tasks_of(w, run.id, status="open") if t.assignee == "guoyan")
    await w.say(OFFICE, f"转派 {guoyan_task.id} 冯凯 郭燕请假")  # a teacher is not a 教学秘书
    assert "冯凯不是信息工程系的教学秘书或系部主任" in w.last_text(OFFICE) and not w.cards("fengkai")
    await w.say(OFFICE, f"转派 {guoyan_task.id} 邓雨林 郭燕请假")  # another 系部's head
    assert "邓雨林不是信息工程系的" in w.last_text(OFFICE) and not w.cards("dengyl")
    await w.say(OFFICE, f"转派 {guoyan_task.id} 徐慧敏 郭燕请假")  # the same 系部's head acts for it
    assert "转派给 徐慧敏" in w.last_text(OFFICE)
    assert "已由王建伟转派给徐慧敏" in w.last_text("guoyan") and "郭燕请假" in w.last_text("guoyan")
    assert "转派给您（原由郭燕办理）" in w.last_text("xuhm")
    moved = [u for u in w.fake.card_updates if "guoyan" in u["userids"]][-1]["template_card"]
    assert moved["replace_text"] == "已转派" and "已转派给徐慧敏" in moved["sub_title_text"]  # no live button
    await w.click("guoyan", stale, "办结", create_time=int(time.time()) + 5)
    assert "不由您处理" in w.last_text("guoyan")
    await w.click("xuhm", w.last_card("xuhm"), "办结")
    await w.click("yeqing", w.last_card("yeqing"), "办结")
    assert (await run_of(w, "4.7")).step_index == 1  # 经济管理系 still behind

    caiqh_card = w.last_card("caiqh")
    await w.say(OFFICE, "跳过 4.7 经济管理系已线下召开")
    assert "已跳过" in w.last_text(OFFICE) and "经济管理系已线下召开" in w.last_text(OFFICE)
    assert (await run_of(w, "4.7")).step_index == 2
    assert settled([u for u in w.fake.card_updates if "caiqh" in u["userids"]][-1]) == "已由王建伟跳过"
    await w.click("caiqh", caiqh_card, "办结", create_time=int(time.time()) + 7)
    assert "已处理" in w.last_text("caiqh")
    async with w.core.db.session() as s:
        audit = {(a.action, a.actor): a.detail for a in
                 (await s.execute(select(AuditEntry).where(AuditEntry.run_id == run.id))).scalars()}
    assert "郭燕请假" in audit[("reassign", OFFICE)] and "徐慧敏" in audit[("reassign", OFFICE)]
    assert "经济管理系已线下召开" in audit[("skip", OFFICE)]
    assert audit[("remind", OFFICE)] == "3"


# ----- restart, several runs ----------------------------------------------------------------------------
async def test_restart_mid_run_continues(wecom, wecom_settings, aiohttp_client):
    from bot.app import CORE, create_app
    from tests.support.harness import WeComHarness

    w = wecom
    await w.say(OFFICE, "启动 4.7")
    run = await run_of(w, "4.7")
    await finish_office_tasks(w, run)
    await w.click("linms", w.last_card("linms"), "办结")

    app2 = create_app(wecom_settings, "serve", start_workers=False, clock=w.core.clock)  # a new process, same db
    w2 = WeComHarness(await aiohttp_client(app2), app2[CORE], w.fake)
    await w2.click("guoyan", w.last_card("guoyan"), "办结")  # cards sent before the restart still work
    await w2.click("caiqh", w.last_card("caiqh"), "办结")
    await w2.click("yeqing", w.last_card("yeqing"), "办结")  # 通识教育部 too
    assert (await run_of(w2, "4.7")).step_index == 2
    run = await walk(w2, run)
    assert run.status == "done"
    assert any("已全部办结" in t for t in w2.texts(OFFICE))


async def test_several_runs_of_one_workflow(wecom):
    w = wecom
    await w.say(OFFICE, "启动 4.7")
    await w.say(OFFICE, "启动 4.7")
    async with w.core.db.session() as s:
        first, second = (await s.execute(select(Run).where(Run.code == "4.7").order_by(Run.id))).scalars().all()
    assert first.record_no != second.record_no
    await finish_office_tasks(w, second)
    assert (await run_of_id(w, second.id)).step_index == 1
    assert (await run_of_id(w, first.id)).step_index == 0
    assert len([c for c in w.cards("linms") if "学期评教" in c["main_title"]["title"]]) == 1

    await w.say(OFFICE, "进度 4.7")
    shown = [t for t in w.texts(OFFICE) if t.startswith("【进度】")]
    assert any(first.record_no in t for t in shown) and any(second.record_no in t for t in shown)

    await finish_office_tasks(w, first)
    assert len([c for c in w.cards("linms") if "学期评教" in c["main_title"]["title"]]) == 2
    for run in (first, second):
        assert (await walk(w, run)).status == "done"
