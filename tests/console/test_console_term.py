"""校历 and 课表 on the console over real HTTP: the teaching weeks with holidays and 调休, and a
课表 upload checked and previewed (nothing written) before it replaces the term, audited."""
from __future__ import annotations

import re
from pathlib import Path

from aiohttp import FormData
from sqlalchemy import select

from models import AuditEntry, TimetableMeeting
from tests.support.identity import PLAIN_UA, WXWORK_UA
from tests.support.people import OFFICE, SECRETARY_IT

CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')
DEMO = (Path(__file__).resolve().parents[2] / "bot" / "demo" / "timetable.csv").read_text(encoding="utf-8")
TERM = "2026-2027-1"


def flash(html: str) -> str:
    found = re.search(r'<div class="flash [a-z]+" role="status">(.*?)</div>', html, re.S)
    return found.group(1) if found else ""


async def upload(b, text: str, name: str = "课表.csv", token: str | None = None) -> tuple[int, str]:
    _, html = await b.open("/console/calendar")
    form = FormData()
    form.add_field("csrf", CSRF.search(html).group(1) if token is None else token)
    form.add_field("term", TERM)
    form.add_field("file", text.encode("utf-8"), filename=name, content_type="text/csv")
    return await b.open("/console/calendar/timetable/preview", "POST", form)


async def weekdays(core) -> list[int]:
    """The weekday of the demo's 机械制图 for 机电2401 at periods 7-8 (the row the tests move)."""
    async with core.db.session() as s:
        return list((await s.execute(select(TimetableMeeting.weekday).where(
            TimetableMeeting.term == TERM, TimetableMeeting.classes_text == "机电2401",
            TimetableMeeting.course == "机械制图", TimetableMeeting.first_period == 7))).scalars())


async def test_calendar_weeks_and_a_timetable_previewed_then_applied(wecom, browsers):
    w = wecom
    b = browsers(OFFICE, PLAIN_UA)
    await b.open("/console/login/qr")
    status, html = await b.open("/console/calendar")
    assert status == 200 and "12月3日（周四）第13周" in html
    assert '<td class="now">第13周</td>' in html and "1月1日 元旦放假" in html and "10月10日 国庆节调休（上班）" in html
    assert "16 条上课安排" in html and "还没有导入" in html  # the demo's term, and the next one

    moved = DEMO.replace("sunlt,孙丽婷,机械制图,机电2401,1,7-8", "sunlt,孙丽婷,机械制图,机电2401,2,7-8").strip()
    rows = moved.splitlines()
    bad = "\n".join(rows + ["sunlt,孙丽婷,机械制图,机电2401,周八,1-2,1-16周,A101", "nobody,无此人,高数,机电2401,2,1-2,1-16周,B1"])
    status, html = await upload(b, bad)
    kept = len(rows) - 1
    assert status == 200 and f"将导入 <b>{kept}</b> 条，<b>2</b> 行有问题不导入" in html
    assert "替换原课表：新增 1 条，删除 1 条，变更 0 条" in html
    assert "星期“周八”无法识别" in html and f"第 {len(rows) + 1} 行" in html
    assert await weekdays(w.core) == [1]  # a preview writes nothing

    token = re.search(r'name="token" value="([^"]+)"', html).group(1)
    status, html = await b.open("/console/calendar/timetable/apply", "POST",
                                {"csrf": CSRF.search(html).group(1), "token": token, "term": TERM,
                                 "filename": "课表.csv"})
    assert f"{TERM} 学期课表已导入 {kept} 条，2 行未导入" in flash(html) and f"{kept} 条上课安排" in html
    assert await weekdays(w.core) == [2]
    async with w.core.db.session() as s:
        (entry,) = (await s.execute(select(AuditEntry).where(AuditEntry.action == "timetable_import"))).scalars()
    assert entry.actor == OFFICE and f"导入{kept} 未导入2" in entry.detail

    status, html = await upload(b, "not a sheet", name="课表.txt")
    assert "无法导入课表" in flash(html) and await weekdays(w.core) == [2]
    status, html = await upload(b, DEMO, token="")
    assert status == 403 and "页面已过期" in html

    sec = browsers(SECRETARY_IT, WXWORK_UA)
    status, html = await sec.open("/console/calendar")
    assert status == 200 and "第13周" in html and "检查并预览" not in html
    status, html = await upload(sec, DEMO)
    assert status == 403 and "只能查看" in html
