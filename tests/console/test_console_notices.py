"""通知 on the console over real HTTP: compose to every 辅导员 with an attachment, confirmations
through the WeCom callback, progress per 系部, 催办, export and 撤回; a notice scheduled for later
sent by the reminders tick when the clock reaches it, or cancelled before; CSRF and 系部 refusals."""
from __future__ import annotations

import io
import json
import re
from datetime import datetime

from aiohttp import FormData
from openpyxl import load_workbook
from sqlalchemy import select

from models import AuditEntry, Reminder, Run, Task
from tests.support.clock import ManualClock
from tests.support.harness import card_text, card_url, local_path
from tests.support.identity import PLAIN_UA, WXWORK_UA
from tests.support.people import COUNSELORS, OFFICE, SECRETARY_IT

CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
MORNING = datetime(2026, 12, 3, 2, 0)  # 10:00 in Beijing, a Thursday of the 校历's 第13周


def flash(html: str) -> str:
    found = re.search(r'<div class="flash [a-z]+" role="(?:status|alert)">(.*?)</div>', html, re.S)
    return found.group(1) if found else ""


async def login(b) -> str:
    status, html = await b.open("/console/login/qr")
    assert status == 200 and "本学期总览" in html
    return html


async def compose(b, fields: dict, file: tuple[str, bytes] | None = None, token: str | None = None):
    _, html = await b.open("/console/notices/new")
    form = FormData()
    form.add_field("csrf", CSRF.search(html).group(1) if token is None else token)
    for name, value in fields.items():
        for v in (value if isinstance(value, list) else [value]):
            form.add_field(name, v)
    if file:
        form.add_field("file", file[1], filename=file[0], content_type="application/octet-stream")
    status, page = await b.open("/console/notices/new", "POST", form)
    await b.w.core.settle()
    return status, page


async def act(b, run_id: int, action: str) -> tuple[int, str]:
    _, html = await b.open(f"/console/notices/{run_id}")
    status, page = await b.open(f"/console/notices/{run_id}/{action}", "POST", {"csrf": CSRF.search(html).group(1)})
    await b.w.core.settle()
    return status, page


def about(messages: list[dict], words: str) -> list[dict]:
    """The notice cards among what was sent (the reminders tick sends its own too)."""
    return [m for m in messages if m["card"] and words in card_text(m["card"])]


async def notice_runs(core) -> list[Run]:
    async with core.db.session() as s:
        return list((await s.execute(select(Run).where(Run.code == "notice").order_by(Run.id))).scalars())


async def test_compose_to_every_counselor_confirm_remind_export_and_withdraw(wecom, browsers):
    w = wecom
    w.core.clock = ManualClock(MORNING)
    b = browsers(OFFICE, PLAIN_UA)
    await login(b)
    status, html = await b.open("/console/notices/new")
    assert status == 200 and 'value="辅导员"' in html and 'value="计网2401"' in html

    status, html = await compose(b, {"text": "请各位辅导员周五前提交班级学籍异动名单", "role": "辅导员",
                                     "deadline": "2026-12-04T17:00", "confirm": "1", "when": "now"},
                                 ("学籍异动表.pdf", PDF))
    assert status == 200 and "通知已发出" in flash(html) and "共 4 人" in flash(html)
    (run,) = await notice_runs(w.core)
    assert run.status == "open" and run.data["audience"] == "全校辅导员"
    for userid in COUNSELORS:
        card = w.last_card(userid)
        assert "请各位辅导员周五前提交" in card_text(card) and "附件:学籍异动表.pdf" in card_text(card)
    url = card_url(w.last_card("huangfd"))
    assert f"u=huangfd" in url and url != card_url(w.last_card("zhoujs"))  # each their own signed link
    async with b.session.get(b.site + local_path(url), headers={"User-Agent": PLAIN_UA}) as resp:
        assert resp.status == 200 and await resp.read() == PDF
    _, html = await b.open(f"/console/notices/{run.id}")  # the office opens it from the console too
    file_id = re.search(r'href="/console/files/(\d+)">学籍异动表.pdf', html).group(1)
    async with b.session.get(b.site + f"/console/files/{file_id}") as resp:
        assert resp.status == 200 and await resp.read() == PDF

    await w.click("huangfd", w.last_card("huangfd"), "确认收到")
    await w.click("tangwj", w.last_card("tangwj"), "确认收到")
    status, html = await b.open(f"/console/notices/{run.id}")
    assert '<span class="done-total">2/4</span>' in html and "已确认 1/2" in html
    assert "截止：12月4日（周五）第13周 17:00" in html
    row = re.search(r"data-department=\"机电工程系\">(.*?)</tr>", html, re.S).group(1)
    assert re.sub(r"<svg.*?</svg>|\s", "", row, flags=re.S) == \
        "<td>机电工程系</td><td></td><td>1/2</td><td>1</td><td>0</td><td>周建森</td>"
    assert 'fill="#2e9e5b"' in row and 'fill="#b8bec8"' in row  # confirmed and not yet, none late

    mark = w.mark()
    status, html = await act(b, run.id, "remind")
    assert "已催办 2 人" in flash(html)
    assert sorted({m["userid"] for m in w.since(mark)}) == ["panxl", "zhoujs"]
    assert "【催办】" in card_text(w.last_card("zhoujs"))

    async with b.session.get(b.site + f"/console/notices/{run.id}.xlsx") as resp:
        rows = [[c.value for c in r] for r in load_workbook(io.BytesIO(await resp.read())).active.iter_rows()]
    assert {r[0]: r[2] for r in rows[1:]} == {"黄福东": "已确认", "周建森": "未确认", "唐文杰": "已确认",
                                              "潘晓丽": "未确认"}

    mark = w.mark()
    status, html = await act(b, run.id, "withdraw")
    assert "已撤回通知" in flash(html) and "已撤回" in html
    assert sorted({m["userid"] for m in w.since(mark)}) == sorted(COUNSELORS)
    assert "【已撤回】教务处通知\n这条通知已撤回，不用再处理" in w.last_text("zhoujs")
    notice_cards = {m["msgid"] for m in w.sent_messages() if m["card"] and "学籍异动名单" in card_text(m["card"])}
    assert len(notice_cards) == 4 + 2 and sorted(w.fake.recalled) == sorted(notice_cards)  # each a link of their own
    async with w.core.db.session() as s:
        states = dict((await s.execute(select(Task.assignee, Task.status).where(Task.run_id == run.id))).all())
        actions = [a.action for a in (await s.execute(select(AuditEntry).where(AuditEntry.run_id == run.id)
                                                      .order_by(AuditEntry.id))).scalars()]
    assert states == {"huangfd": "done", "tangwj": "done", "zhoujs": "cancelled", "panxl": "cancelled"}
    assert actions[0] == "notice_send" and "notice_remind" in actions and actions[-1] == "notice_withdraw"
    status, html = await act(b, run.id, "withdraw")
    assert "没有发出或已经撤回" in flash(html)


async def test_a_notice_older_than_a_day_has_its_cards_greyed_instead(wecom, browsers):
    w = wecom
    w.core.clock = ManualClock(MORNING)
    b = browsers(OFFICE, PLAIN_UA)
    await login(b)
    await compose(b, {"text": "机电工程系教学秘书请核对监考安排", "role": "教学秘书", "department": "机电工程系",
                      "confirm": "1"})
    (run,) = await notice_runs(w.core)
    (sent,) = [c for c in w.fake.calls_to("/cgi-bin/message/send") if "监考安排" in json.dumps(c.json, ensure_ascii=False)]
    for d in w.fake.deliveries:  # WeCom recalls for 24 hours only
        d.at -= 25 * 3600
    status, html = await act(b, run.id, "withdraw")
    assert "已告诉 1 位收件人" in flash(html) and w.fake.recalled == []
    (update,) = w.fake.card_updates
    assert update["userids"] == ["linms"] and update["button"] == {"replace_name": "已撤回"}
    assert update["response_code"].startswith("rc-")
    assert "这条通知已撤回" in w.last_text("linms")


async def test_a_scheduled_notice_goes_out_at_its_time_and_a_cancelled_one_never(wecom, browsers):
    w = wecom
    clock = w.core.clock = ManualClock(MORNING)
    b = browsers(OFFICE, PLAIN_UA)
    await login(b)
    status, html = await compose(b, {"text": "下午三点开教学秘书例会", "role": "教学秘书", "confirm": "1",
                                     "when": "later", "send_at": "2026-12-03T10:30"})
    assert status == 200, re.findall(r"<h1>(.*?)<", html)
    assert "将于 2026-12-03 10:30 发给 4 人" in flash(html) and "定时发送" in html
    assert "（12月3日（周四）第13周 10:30，4 人）" in html
    status, html = await compose(b, {"text": "这条会被取消", "role": "教学秘书", "when": "later",
                                     "send_at": "2026-12-03T11:00"})
    first, second = await notice_runs(w.core)
    assert first.status == second.status == "scheduled"
    status, html = await act(b, second.id, "cancel")
    assert "已取消定时通知" in flash(html)

    mark = w.mark()
    await w.core.reminders.tick(clock.advance(minutes=20))
    await w.core.settle()
    assert about(w.since(mark), "例会") == []  # 10:20: not yet
    await w.core.reminders.tick(clock.advance(minutes=11))
    await w.core.settle()
    assert sorted(m["userid"] for m in about(w.since(mark), "例会")) == ["caiqh", "guoyan", "linms", "yeqing"]
    assert "下午三点开教学秘书例会" in card_text(w.last_card("guoyan"))
    await w.core.reminders.tick(clock.advance(minutes=40))
    await w.core.settle()
    assert about(w.since(mark), "这条会被取消") == []
    first, second = await notice_runs(w.core)
    assert (first.status, second.status) == ("open", "cancelled")
    async with w.core.db.session() as s:
        rows = dict((await s.execute(select(Reminder.key, Reminder.status).where(Reminder.kind == "notice"))).all())
    assert rows == {f"notice:{first.id}": "sent", f"notice:{second.id}": "skipped"}
    status, html = await act(b, first.id, "cancel")
    assert "已经发出或已取消" in flash(html)


async def test_compose_refuses_bad_input_a_missing_token_and_people_who_only_look(wecom, browsers):
    w = wecom
    w.core.clock = ManualClock(MORNING)
    b = browsers(OFFICE, PLAIN_UA)
    await login(b)
    status, html = await compose(b, {"text": "没有收件人", "when": "now"})
    assert status == 400 and "至少勾选一个角色" in html and "没有收件人</textarea>" in html
    status, html = await compose(b, {"text": "过去的截止", "role": "辅导员", "deadline": "2026-12-01T17:00"})
    assert status == 400 and "截止时间要晚于现在" in html
    status, html = await compose(b, {"text": "坏附件", "role": "辅导员"}, ("名单.pdf", b"MZ not a pdf"))
    assert status == 400 and "不是能发送的文件" in html
    status, html = await compose(b, {"text": "没有令牌", "role": "辅导员"}, ("a.pdf", PDF), token="")
    assert status == 403 and "页面已过期" in html
    assert await notice_runs(w.core) == []
    assert not list((w.core.settings.data_dir / "files" / "notices").glob("*"))  # refused files are not kept

    await compose(b, {"text": "机电工程系的辅导员请注意", "role": "辅导员", "department": "机电工程系"})
    (run,) = await notice_runs(w.core)
    status, html = await b.open(f"/console/notices/{run.id}/remind", "POST", {"csrf": "0" * 64})
    assert status == 403 and "页面已过期" in html

    sec = browsers(SECRETARY_IT, WXWORK_UA)  # 信息工程系: looks at her own 系部 only
    status, html = await sec.open("/console/notices/new")
    assert status == 403 and "只能查看" in html
    status, html = await sec.open(f"/console/notices/{run.id}")
    assert status == 403 and "与信息工程系无关" in html
