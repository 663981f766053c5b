"""The 教务处 console over real HTTP: login per role (the demo's picker, WeCom 扫码登录 through the
fake WeCom's wwlogin/sso/login and auth/getuserinfo, WeCom OAuth inside the client), CSRF, the 总览's
done/total, 催办 reaching people's phones, the run page's files and zip, and the authority rules."""
from __future__ import annotations

import io
import re
import zipfile

from sqlalchemy import select, update

from models import AuditEntry, Run, Task
from tests.support.harness import card_url
from tests.support.identity import PLAIN_UA, WXWORK_UA, Browser
from tests.support.files import PNG
from tests.support.pages import upload_named as upload
from tests.support.wecom_helpers import AGENT_ID, CORP_ID

OFFICE, OFFICE2, LEADER = "wangjw", "liuyf", "zhaogm"
SECRETARY_IT, TEACHER = "guoyan", "sunlt"
CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, html[:500]
    return found.group(1)


def flash(html: str) -> str:
    """The one line a page shows after an action."""
    found = re.search(r'<div class="flash [a-z]+" role="status">(.*?)</div>', html, re.S)
    return found.group(1) if found else ""


async def audit_rows(core, action: str) -> list[AuditEntry]:
    async with core.db.session() as s:
        return list((await s.execute(select(AuditEntry).where(AuditEntry.action == action)
                                     .order_by(AuditEntry.id))).scalars().all())


async def qr_login(b: Browser) -> tuple[int, str]:
    """A plain PC browser: the login page's 扫码 button, the person scans, back on the console."""
    status, html = await b.open("/console")
    assert status == 200 and "企业微信扫码登录" in html, html[:300]
    return await b.open("/console/login/qr")


async def post(b: Browser, path: str, fields: dict, page: str = "/console") -> tuple[int, str]:
    """Submit a form the way the page does: with the CSRF token the page carries."""
    _, html = await b.open(page)
    return await b.open(path, "POST", {"csrf": csrf_of(html), **fields})


# --- login ---------------------------------------------------------------------------------------


async def test_demo_picker_lets_in_office_leaders_and_department_people_only(devchat):
    w, client = devchat, devchat.client
    resp = await client.get("/console")
    html = await resp.text()
    assert resp.status == 200 and resp.url.path == "/console/login"
    names = set(re.findall(r"以(\S+?)登录", html))
    assert {"王建伟", "刘艳芳", "赵国民", "陈志荣", "郭燕"} <= names and "孙丽婷" not in names and "黄福东" not in names

    async def login(userid: str):
        client.session.cookie_jar.clear()
        page = await client.get("/console/login")
        return await client.post("/console/login", data={"userid": userid, "csrf": csrf_of(await page.text())})

    resp = await login(OFFICE)
    html = await resp.text()
    assert resp.status == 200 and "本学期总览" in html and "王建伟（全校）" in html
    resp = await login(LEADER)
    assert resp.status == 200 and "赵国民（全校）" in await resp.text()
    resp = await login(SECRETARY_IT)
    html = await resp.text()
    assert resp.status == 200 and "只显示信息工程系" in html and "一键催办" not in html
    resp = await login(TEACHER)
    html = await resp.text()
    assert resp.status == 403 and "没有工作台的权限" in html and "孙丽婷老师" in html
    assert (await client.get("/console", allow_redirects=False)).status == 303  # refused: no session was set
    logins = await audit_rows(w.core, "console_login")
    assert [a.actor for a in logins] == [OFFICE, LEADER, SECRETARY_IT]

    # no token, or another browser's token: refused, nothing done
    resp = await login(OFFICE)
    token = csrf_of(await resp.text())
    resp = await client.post("/console/start", data={"code": "1.1"})
    assert resp.status == 403 and "页面已过期" in await resp.text()
    client.session.cookie_jar.clear()
    page = await client.get("/console/login")
    other_browser = csrf_of(await page.text())
    resp = await client.post("/console/login", data={"userid": OFFICE, "csrf": token})
    assert resp.status == 403 and "页面已过期" in await resp.text()
    resp = await client.post("/console/login", data={"userid": OFFICE, "csrf": other_browser})
    assert resp.status == 200
    async with w.core.db.session() as s:
        assert (await s.execute(select(Run))).first() is None


async def test_qr_login_on_a_pc_and_oauth_inside_wecom(wecom, browsers):
    w = wecom
    pc = browsers(OFFICE, PLAIN_UA)
    status, html = await qr_login(pc)
    assert status == 200 and "本学期总览" in html
    sso = w.fake.oauth.sso_calls()[-1].query
    assert sso["login_type"] == "CorpApp" and sso["appid"] == CORP_ID and sso["agentid"] == str(AGENT_ID)
    assert sso["redirect_uri"] == "http://campusbot.test/console/login/wecom" and sso["state"]
    assert w.fake.oauth.exchanged == [OFFICE]
    session = pc.cookie("campusbot_session")
    assert session["httponly"] and session["samesite"] == "Lax" and int(session["max-age"]) > 0

    # a forged return (no state cookie of this browser) is refused
    other = browsers(OFFICE, PLAIN_UA)
    status, html = await other.open("/console/login/wecom?code=x&state=y")
    assert status == 403 and "重新登录" in html

    # inside the WeCom client: the pages' OAuth, the same session
    phone = browsers(SECRETARY_IT, WXWORK_UA)
    status, html = await phone.open("/console")
    assert status == 200 and "郭燕（信息工程系）" in html
    assert w.fake.oauth.authorize_calls() and w.fake.oauth.exchanged[-1] == SECRETARY_IT

    teacher = browsers(TEACHER, PLAIN_UA)
    status, html = await qr_login(teacher)
    assert status == 403 and "没有工作台的权限" in html


# --- 总览, 催办, run page --------------------------------------------------------------------------


async def start_from_console(w, b: Browser) -> int:
    status, html = await post(b, "/console/start", {"code": "1.1"})
    assert status == 200 and "已启动《三大注册》" in html, html[:800]
    async with w.core.db.session() as s:
        run = (await s.execute(select(Run).where(Run.code == "1.1"))).scalar_one()
    await w.core.settle()
    await w.click(OFFICE, w.last_card(OFFICE), "办结")  # 拟定方案, in chat
    await w.click(OFFICE, w.last_card(OFFICE), "办结")  # 制作分班审核名单
    return run.id


async def test_overview_progress_remind_and_the_run_page(wecom, browsers):
    w = wecom
    b = browsers(OFFICE, PLAIN_UA)
    await qr_login(b)
    run_id = await start_from_console(w, b)
    assert [a.actor for a in await audit_rows(w.core, "start")] == [OFFICE]

    # two of the four counselors hand in their signed pages through the chat and the page
    await w.image("huangfd", PNG, "签字页.png")
    url = card_url(w.last_card("tangwj"))
    await upload(w, url, "承诺书.pdf", b"%PDF-1.4" + b"\x00" * 100)
    await upload(w, url, "承诺书-更正.pdf", b"%PDF-1.4" + b"\x01" * 100)

    status, html = await b.open("/console")
    row = re.search(r"三大注册</a>.*?</tr>", html, re.S).group(0)
    assert '<td class="done-total">2/4</td>' in row
    assert "机电工程系</span>" in row and "1/2" in row and "信息工程系" in row and "1/1" in row

    # 催办 from the run page: the card again on the phones of those behind, and an audit row
    before = {u: len(w.cards(u)) for u in ("zhoujs", "panxl", "huangfd")}
    status, html = await post(b, f"/console/runs/{run_id}/remind", {}, f"/console/runs/{run_id}")
    await w.core.settle()
    assert status == 200 and "已催办" in html and "周建森" in html and "潘晓丽" in html
    assert len(w.cards("zhoujs")) == before["zhoujs"] + 1 and len(w.cards("panxl")) == before["panxl"] + 1
    assert len(w.cards("huangfd")) == before["huangfd"]
    assert w.last_card("zhoujs")["main_title"]["title"].startswith("【催办】请上传")
    reminded = await audit_rows(w.core, "remind")
    assert reminded[-1].actor == OFFICE and reminded[-1].run_id == run_id

    # one click for the late ones: only runs with someone past due
    async with w.core.db.session() as s:
        await s.execute(update(Task).where(Task.run_id == run_id, Task.assignee == "zhoujs", Task.status == "open")
                        .values(due_at=w.core.clock().replace(year=2020)))
    status, html = await b.open("/console")
    assert "逾期未办（1）" in html and "周建森" in html
    status, html = await post(b, "/console/remind-overdue", {})
    await w.core.settle()
    assert "已催办 1 项工作" in html and len(w.cards("zhoujs")) == before["zhoujs"] + 2

    # the run page: steps, tasks, every version of the files, the audit trail; one file and the zip
    status, html = await b.open(f"/console/runs/{run_id}")
    assert status == 200 and "签字页.png" in html and "承诺书.pdf" in html and "承诺书-更正.pdf" in html
    assert "第1版" in html and "最新" in html and "催办" in html and "唐文杰" in html
    file_id = re.search(r'href="/console/files/(\d+)">承诺书.pdf', html).group(1)
    async with b.session.get(b.site + f"/console/files/{file_id}") as resp:
        assert resp.status == 200 and await resp.read() == b"%PDF-1.4" + b"\x00" * 100
    async with b.session.get(b.site + f"/console/runs/{run_id}/files.zip") as resp:
        assert resp.status == 200 and resp.headers["Content-Type"] == "application/zip"
        names = zipfile.ZipFile(io.BytesIO(await resp.read())).namelist()
    assert len(names) == 3 and any(n.endswith("签字页.png") for n in names)
    assert sum(n.endswith("承诺书.pdf") or n.endswith("承诺书-更正.pdf") for n in names) == 2

    # a 教学秘书 sees only her 系部, and only looks
    sec = browsers(SECRETARY_IT, WXWORK_UA)
    status, html = await sec.open(f"/console/runs/{run_id}")
    assert status == 200 and "承诺书.pdf" in html and "签字页.png" not in html and "黄福东" not in html
    machine_file = re.search(r'href="/console/files/(\d+)">签字页.png',
                             (await b.open(f"/console/runs/{run_id}"))[1]).group(1)
    status, html = await sec.open(f"/console/files/{machine_file}")
    assert status == 404
    status, html = await post(sec, f"/console/runs/{run_id}/remind", {}, f"/console/runs/{run_id}")
    assert status == 403 and "只能查看" in html
    async with w.core.db.session() as s:  # a run with no part for 信息工程系 is not hers to open
        await s.execute(update(Task).where(Task.run_id == run_id, Task.department == "信息工程系")
                        .values(department="经济管理系"))
    status, html = await sec.open(f"/console/runs/{run_id}")
    assert status == 403 and "与信息工程系无关" in html


async def test_reassign_skip_and_close_follow_the_authority_rules(wecom, browsers):
    w = wecom
    b = browsers(OFFICE, PLAIN_UA)
    await qr_login(b)
    run_id = await start_from_console(w, b)
    page = f"/console/runs/{run_id}"
    async with w.core.db.session() as s:
        task = (await s.execute(select(Task).where(Task.run_id == run_id, Task.assignee == "zhoujs"))).scalar_one()

    # another 系部's counselor does not hold this task's role; the same 系部's does
    status, html = await post(b, f"/console/tasks/{task.id}/reassign", {"name": "唐文杰", "reason": "代办"}, page)
    assert "唐文杰不是机电工程系的辅导员" in flash(html)
    status, html = await post(b, f"/console/tasks/{task.id}/reassign", {"name": "黄福东", "reason": "周老师出差"}, page)
    await w.core.settle()
    assert "已转派给黄福东" in flash(html) and "不再需要您处理" in w.last_text("zhoujs")
    assert (await audit_rows(w.core, "reassign"))[-1].actor == OFFICE

    other = browsers(OFFICE2, PLAIN_UA)  # 教务处 too, but not this run's owner
    await qr_login(other)
    status, html = await post(other, f"{page}/close", {"reason": "提前结束"}, page)
    assert "由王建伟负责" in flash(html)
    status, html = await post(b, f"{page}/skip", {"reason": "x"}, page)
    assert "请写明原因" in flash(html)
    status, html = await post(b, f"{page}/skip", {"reason": "本学期不需要"}, page)
    assert "已跳过“上传注册承诺书" in flash(html)
    status, html = await post(b, f"{page}/close", {"reason": "已在学信网完成"}, page)
    assert "《三大注册》已办结" in flash(html)
    async with w.core.db.session() as s:
        assert (await s.get(Run, run_id)).status == "done"
    assert (await audit_rows(w.core, "close"))[-1].actor == OFFICE


# --- 调停课汇总 ---------------------------------------------------------------------------------------


async def test_adjust_summary_counts_per_teacher_and_exports_inert_xlsx(wecom, browsers):
    from openpyxl import load_workbook

    from tests.support.harness import pin_today
    from tests.support.flows import TODAY, fill_form

    w = wecom
    pin_today(w.core, TODAY)
    for kind in ("调课", "调课", "停课"):
        await fill_form(w, kind=kind)
        await w.say(TEACHER, "确认")
        assert "已提交" in w.last_text(TEACHER)
    await w.say("luoxy", "停课")  # 罗晓燕, typing a formula where the course goes
    for answer in ("=HYPERLINK(\"http://x\")", "计网2401", "12月3日 第5-6节", "实训楼B201", "生病请假"):
        await w.say("luoxy", answer)
    await w.say("luoxy", "确认")

    b = browsers(OFFICE, PLAIN_UA)
    await qr_login(b)
    status, html = await b.open("/console/adjust?week=13")
    assert status == 200
    teachers = re.search(r'id="teachers">.*?</table>', html, re.S).group(0)
    assert "<td>孙丽婷</td><td>信息工程系</td><td>2</td><td>1</td><td>0</td><td>3</td>" in teachers
    assert "<td>罗晓燕</td><td>信息工程系</td><td>0</td><td>1</td><td>0</td><td>1</td>" in teachers
    assert "<td>信息工程系</td><td>2</td><td>2</td><td>2</td><td>0</td><td>4</td>" in html
    status, html = await b.open("/console/adjust?week=12")
    assert "明细（0 条）" in html
    status, html = await b.open("/console/adjust?teacher=罗晓燕")
    assert "明细（1 条）" in html

    async with b.session.get(b.site + "/console/adjust.xlsx?week=13") as resp:
        assert resp.status == 200 and "attachment" in resp.headers["Content-Disposition"]
        body = await resp.read()
    wb = load_workbook(io.BytesIO(body))
    listing, counts, by_department = wb.worksheets
    rows = [[c.value for c in r] for r in listing.iter_rows()]
    assert rows[0][:4] == ["记录号", "教师", "系部", "类型"] and len(rows) == 5
    formula = next(r for r in rows if r[1] == "罗晓燕")
    assert formula[4] == "'=HYPERLINK(\"http://x\")" and listing.cell(5, 5).data_type == "s"
    assert ["孙丽婷", "信息工程系", "2", "1", "0", "3"] in [[c.value for c in r] for r in counts.iter_rows()]
    assert [[c.value for c in r] for r in by_department.iter_rows()] == [
        ["系部", "涉及教师数", "调课", "停课", "代课", "合计"], ["信息工程系", "2", "2", "2", "0", "4"]]
    assert (await audit_rows(w.core, "console_export"))[-1].actor == OFFICE


async def test_audit_log_page_searches_by_person_run_and_day(wecom, browsers):
    w = wecom
    b = browsers(OFFICE, PLAIN_UA)
    await qr_login(b)
    run_id = await start_from_console(w, b)
    await post(b, f"/console/runs/{run_id}/remind", {}, f"/console/runs/{run_id}")
    status, html = await b.open("/console/audit?person=王建伟&run=三大注册")
    rows = re.findall(r"<tr><td>.*?</tr>", re.search(r'id="audit">.*?</table>', html, re.S).group(0), re.S)
    assert status == 200 and rows and all("王建伟" in r and "三大注册" in r for r in rows)
    assert any("催办" in r for r in rows) and any("启动" in r for r in rows)
    today = w.core.reminders.hours.today(w.core.clock()).isoformat()
    status, html = await b.open(f"/console/audit?day={today}")
    assert "登录工作台" in html
    status, html = await b.open("/console/audit?day=2020-01-01")
    assert "没有找到记录" in html
    status, html = await b.open("/console/audit?day=昨天")
    assert status == 200 and "日期看不懂" in html
    sec = browsers(SECRETARY_IT, WXWORK_UA)
    status, html = await sec.open("/console/audit")
    assert status == 403 and "只供教务处查看" in html


async def test_notice_confirmations_are_listed_and_exported(wecom, browsers):
    from openpyxl import load_workbook

    from tests.support.flows import compose

    w = wecom
    await compose(w)  # to every 教学秘书, needs confirming
    await w.click("linms", w.last_card("linms"), "确认收到")
    await w.click(SECRETARY_IT, w.last_card(SECRETARY_IT), "确认收到")
    b = browsers(OFFICE, PLAIN_UA)
    await qr_login(b)
    status, html = await b.open("/console/notices")
    assert status == 200 and '<td class="done-total">2/4</td>' in html
    run_id = re.search(r'href="/console/notices/(\d+).xlsx"', html).group(1)
    async with b.session.get(b.site + f"/console/notices/{run_id}.xlsx") as resp:
        assert resp.status == 200
        rows = [[c.value for c in r] for r in load_workbook(io.BytesIO(await resp.read())).active.iter_rows()]
    assert rows[0] == ["姓名", "部门", "确认", "确认时间", "逾期"]
    assert {r[0]: r[2] for r in rows[1:]} == {"林美深": "已确认", "郭燕": "已确认", "蔡琴华": "未确认", "叶青": "未确认"}

    sec = browsers(SECRETARY_IT, WXWORK_UA)  # her own 系部's people only
    status, html = await sec.open("/console/notices")
    assert '<td class="done-total">1/1</td>' in html
