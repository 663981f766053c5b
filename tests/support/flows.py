"""Driving a workflow as its people would: the 调停课 form, the start of 1.1, the
runs and tasks behind the cards, and acting on whatever a task's card asks."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from bot.composition import build_hooks
from handlers.when.school import SchoolDays
from models import Run, Task
from workflow.calendar import DEFAULT_CALENDAR_FILE, load_calendar
from workflow.timetable.conflicts import calendar_conflicts
from tests.support.clock import TODAY  # noqa: F401 - the day every harness app's clock is pinned to
from tests.support.files import JPEG, xlsx
from tests.support.harness import card_text, card_url
from tests.support.pages import upload
from tests.support.people import OFFICE, TEACHER


async def fill_form(w, userid=TEACHER, kind="调课", class_name="计网2401", substitute="崔敏"):
    """The 调停课 form up to its summary; a 代课 names ``substitute``."""
    await w.say(userid, kind)
    assert "课程" in w.last_text(userid)
    await w.say(userid, "电工基础")
    assert "班级" in w.last_text(userid)
    await w.say(userid, class_name)
    await w.say(userid, "12月3日 第3-4节")
    await w.say(userid, "实训楼A301")
    if kind == "调课":
        await w.say(userid, "12月4日 第1-2节")
        await w.say(userid, "不变")
    if kind == "代课":
        await w.say(userid, substitute)
    await w.say(userid, "参加市级教学能力比赛")
    if "有冲突" in w.last_text(userid):  # an earlier request of this test holds the same slot
        await w.say(userid, "同一时段的另一份申请，仅作测试")
    summary = w.last_text(userid)
    assert "请核对调停课申请" in summary and "电工基础" in summary, w.texts(userid)[-6:]
    return summary


def school_days(today: date, count: int) -> list[date]:
    """The first ``count`` days from ``today`` on that the 调课 form takes without asking back (working days
    of teaching weeks, no exam week, before the next term starts). For tests of real ``campusbot`` processes,
    whose clock is the machine's: harness apps run on TODAY instead."""
    cal = load_calendar(DEFAULT_CALENDAR_FILE)
    span = (SchoolDays(cal).horizon(today) - today).days + 1
    found = [d for d in (today + timedelta(days=i) for i in range(span))
             if cal.is_workday(d) and not calendar_conflicts(cal, d)]
    if len(found) < count:
        pytest.skip(f"the shipped 校历 has fewer than {count} teaching days from {today} on")
    return found[:count]


async def start_registration(w):
    await w.say(OFFICE, "启动 1.1")
    assert "已启动" in w.last_text(OFFICE)
    await w.click(OFFICE, w.last_card(OFFICE), "办结")  # 拟定方案
    await w.click(OFFICE, w.last_card(OFFICE), "办结")  # 制作分班审核名单


async def run_of(w, code: str) -> Run:
    async with w.core.db.session() as s:
        return (await s.execute(select(Run).where(Run.code == code).order_by(Run.id.desc()))).scalars().first()


async def tasks_of(w, run_id: int, *, status: str | None = None) -> list[Task]:
    async with w.core.db.session() as s:
        q = select(Task).where(Task.run_id == run_id).order_by(Task.id)
        if status:
            q = q.where(Task.status == status)
        return list((await s.execute(q)).scalars())


def card_for(w, userid: str, task_id: int) -> dict:
    """The latest card a person got for one task (buttons carry its id; upload links name it)."""
    for card in reversed(w.cards(userid)):
        keys = [b["key"] for b in card.get("button_list", [])]
        if any(k.startswith((f"task:{task_id}:", f"fill:{task_id}")) for k in keys) or \
                f"/upload/{task_id}?" in card_url(card):
            return card
    raise AssertionError(f"{userid} has no card for task {task_id}: {[c['main_title'] for c in w.cards(userid)]}")


def progress_text(w, userid: str = OFFICE) -> str:
    """The latest 进度 reply (the list of uploaded files, when there are any, follows it)."""
    return next((t for t in reversed(w.texts(userid)) if t.startswith("【进度】")), "")


def files_text(w, userid: str = OFFICE) -> str:
    """The latest list of uploaded files sent after 进度."""
    return next((t for t in reversed(w.texts(userid)) if t.startswith("### 上传的文件")), "")


def merged_card(w, userid: str = OFFICE, words: str = "") -> dict:
    """The link card a merged sheet arrives as (title 合并表：…, one line, a button to open it)."""
    found = [c for c in w.cards(userid) if c["main_title"]["title"].startswith("合并表") and words in card_text(c)]
    assert found, f"{userid} has no 合并表 card: {[c['main_title'] for c in w.cards(userid)]}"
    return found[-1]


async def finish_office_tasks(w, run: Run, userid: str = OFFICE) -> None:
    """教务处 taps 已完成 on each of its open 办理 cards of the run."""
    for t in await tasks_of(w, run.id, status="open"):
        if t.assignee == userid and t.kind == "task":
            await w.click(userid, card_for(w, userid, t.id), "办结")


SAMPLE = {
    "学号": "2024001", "姓名": "张三", "班级": "机电2401", "异常类型": "休学", "说明": "因病休学", "工号": "sunlt",
    "课程": "电工基础", "课时": 16, "请假课时": 0, "晚自习课时": 4, "选修课课时": 2, "参评班级": "机电2401",
    "完成比率": "95%", "系部": "机电工程系", "科目": "高等数学",
}
FORM_ANSWERS = {"exam_signup_count": ["40", "40", "确认"]}


def valid_file(step, task) -> tuple[bytes, str]:
    """A file the step accepts: its spreadsheet with every column filled, else a document or photo."""
    columns = list(step.columns or [])
    if task.kind == "upload" and step.kind != "upload":  # 教务处's list in a list-check step
        columns = list(build_hooks().get(step.handler).columns)
    if columns:
        return xlsx(columns, [SAMPLE.get(c, "示例") for c in columns]), "表格.xlsx"
    accept = step.accept or ["pdf"]
    if "pdf" in accept:
        return b"%PDF-1.4\n% sample\n", "材料.pdf"
    if "image" in accept:
        return JPEG, "照片.jpg"
    if "xlsx" in accept:
        return xlsx(["内容"], ["示例"]), "材料.xlsx"
    return b"PK\x03\x04 sample document", "材料.docx"


async def act_on(w, run: Run, task) -> bool:
    """Do what the task's card asks; False when the person has no card to act on yet."""
    step = w.core.engine.steps(run)[task.step_index]
    try:
        card = card_for(w, task.assignee, task.id)
    except AssertionError:
        return False
    buttons = [b["text"] for b in card.get("button_list", [])]
    if not buttons:
        data, name = valid_file(step, task)
        status, html = await upload(w, card_url(card), data, name)
        assert status == 200, (run.code, step.id, html)
    elif buttons[0] == "填写":
        await w.click(task.assignee, card, "填写")
        for answer in FORM_ANSWERS[step.form]:
            await w.say(task.assignee, answer)
    else:
        await w.click(task.assignee, card, buttons[0])  # the positive button comes first
    return True


async def run_of_id(w, run_id: int) -> Run:
    async with w.core.db.session() as s:
        return await s.get(Run, run_id)


NOTICE_OFFICE = "wangjw"


async def compose(w, text="请于周五前提交期末试卷", audience="所有教学秘书", deadline="无", confirm="是"):
    await w.say(NOTICE_OFFICE, "通知")
    assert "正文" in w.last_text(NOTICE_OFFICE)
    await w.say(NOTICE_OFFICE, text)
    await w.say(NOTICE_OFFICE, audience)
    await w.say(NOTICE_OFFICE, deadline)
    await w.say(NOTICE_OFFICE, confirm)
    assert "请核对通知" in w.last_text(NOTICE_OFFICE)
    await w.say(NOTICE_OFFICE, "确认")
