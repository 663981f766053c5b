"""The run board and the 总览's chart over real HTTP: this term's runs filtered by 系部, teacher,
state and overdue; the chart counts runs per 系部 and state; a 教学秘书 sees her own 系部 only."""
from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import update

from models import Run, Task
from tests.support.flows import run_of, start_registration
from tests.support.identity import PLAIN_UA, WXWORK_UA
from tests.support.people import OFFICE, SECRETARY_IT


def board_titles(html: str) -> list[str]:
    table = re.search(r'<div class="card" id="board">(.*?)</div>', html, re.S).group(1)
    return re.findall(r'<a href="/console/runs/\d+">(.*?)</a>', table)


async def test_board_filters_and_the_term_chart(wecom, browsers):
    w = wecom
    await start_registration(w)  # 1.1 at its 系部 step: every 辅导员 has a task
    run = await run_of(w, "1.1")
    await w.say(OFFICE, "启动 1.6")
    second = await run_of(w, "1.6")
    async with w.core.db.session() as s:  # 机电工程系 is late with 1.1; 1.6 was withdrawn
        await s.execute(update(Task).where(Task.run_id == run.id, Task.department == "机电工程系",
                                           Task.status == "open").values(due_at=w.core.clock() - timedelta(hours=2)))
        await s.execute(update(Run).where(Run.id == second.id).values(status="cancelled"))
    b = browsers(OFFICE, PLAIN_UA)
    await b.open("/console/login/qr")

    _, html = await b.open("/console/runs")
    assert board_titles(html) == [second.title, run.title] and "12月3日（周四）第13周" in html
    _, html = await b.open("/console/runs?state=overdue")
    assert board_titles(html) == [run.title] and '<td class="state-overdue">有逾期</td>' in html
    _, html = await b.open("/console/runs?overdue=1&department=信息工程系")
    assert board_titles(html) == [run.title]
    _, html = await b.open("/console/runs?state=cancelled")
    assert board_titles(html) == [second.title]
    _, html = await b.open("/console/runs?teacher=黄福东")
    assert board_titles(html) == [run.title]
    _, html = await b.open("/console/runs?teacher=孙丽婷&state=open")
    assert board_titles(html) == [] and "没有符合条件的工作" in html
    _, html = await b.open("/console/runs?state=done")
    assert board_titles(html) == []

    _, html = await b.open("/console")
    chart = re.search(r'<div class="card" id="term-chart">(.*?)</div>', html, re.S).group(1)
    assert "<title>机电工程系 有逾期 1</title>" in chart and "<title>信息工程系 进行中 1</title>" in chart
    assert "<title>教务处 已撤回 1</title>" in chart and "<title>教务处 已办结" not in chart

    sec = browsers(SECRETARY_IT, WXWORK_UA)
    _, html = await sec.open("/console/runs?department=机电工程系&state=overdue")
    assert board_titles(html) == []  # her 信息工程系 is not late
    _, html = await sec.open("/console/runs?state=open")
    assert board_titles(html) == [run.title]
    _, html = await sec.open("/console")
    chart = re.search(r'<div class="card" id="term-chart">(.*?)</div>', html, re.S).group(1)
    assert "信息工程系" in chart and "机电工程系" not in chart
