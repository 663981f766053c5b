"""Reminders over a simulated school year (2026-09-01 … 2027-08-31) with a hand-set clock.

The real specs plus a few small test specs (codes 9.x, one per window kind) run through
the year over the WeCom protocol: window openings with one-tap 启动, an automatic start,
deadline and overdue reminders (copied to the 系部主任), Monday digests, a restart in the
middle, and never a message on a weekend, a holiday or outside working hours.
"""
from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import date, datetime, timedelta

from sqlalchemy import select

from bot.core import BotCore
from bot.db import Database
from bot.reminders.sender import CLAIM_TIMEOUT
from models import Reminder, Run, Task
from tests.support.clock import ManualClock
from tests.support.harness import card_text
from workflow.agenda import flow_for_label
from workflow.registry import default_specs
from workflow.spec import WorkflowSpec

# 通识教育部 is a teaching department like the 系: a 系部 step reaches its secretary too.
SECRETARY = {"机电工程系": "linms", "信息工程系": "guoyan", "经济管理系": "caiqh", "通识教育部": "yeqing"}
HEAD = {"机电工程系": "chenzr", "信息工程系": "xuhm", "经济管理系": "dengyl", "通识教育部": "songlp"}
YEAR = (date(2026, 9, 1), date(2027, 8, 31))
TICKS = ("00:10", "08:30", "12:00")  # local times each simulated day (evenings: see the deferral test)
CN = timedelta(hours=8)


def bj(day: str | date, hhmm: str = "08:30") -> datetime:
    """Beijing wall time → the naive UTC every row stores."""
    d = date.fromisoformat(day) if isinstance(day, str) else day
    return datetime.combine(d, datetime.strptime(hhmm, "%H:%M").time()) - CN


def local(utc: datetime) -> datetime:
    return utc + CN


OFFICE_TASK = [{"id": "do", "title": "办理", "label": "办理", "owner": "教务处", "kind": "task", "assignees": [{"party": "教务处"}],
                "join": "any"}]


def spec(code: str, name: str, *windows: dict, steps: list[dict] | None = None) -> WorkflowSpec:
    return WorkflowSpec.model_validate({"code": code, "name": name, "category": "教学运行", "time": "测试",
                                        "windows": list(windows), "steps": steps or OFFICE_TASK})


TEST_SPECS = {s.code: s for s in [
    spec("9.1", "测试三大注册", {"kind": "fixed", "ranges": [  # 1.1's three ranges
        {"label": "新生学籍注册", "start": "10-08", "end": "10-25"},
        {"label": "在校生学年注册", "start": "09-01", "end": "09-25"},
        {"label": "毕业生学历注册", "start": "06-20", "end": "06-28"}]}),
    spec("9.2", "测试评教", {"kind": "teaching_weeks", "label": "每学期第15-16周", "weeks": [15, 16]}),  # 4.7
    spec("9.3", "测试课时", {"kind": "every_n_weeks", "label": "每4周一次", "every": 4}),  # 1.6
    spec("9.4", "测试月考", {"kind": "monthly", "label": "每月", "day_from": 1, "day_to": 10}),
    spec("9.5", "测试季节", {"kind": "seasons", "seasons": ["春季", "秋季"]}),
    spec("9.6", "测试自动", {"kind": "fixed", "label": "自动", "ranges": [{"start": "03-26", "end": "04-09"}],
                             "auto_start": True, "lead_days": 2}),
    spec("9.7", "测试限期", {"kind": "teaching_weeks", "label": "第8周", "semesters": [1], "weeks": [8, 8]},
         steps=[{"id": "collect", "title": "报送材料", "label": "报送材料", "owner": "系部", "kind": "task", "deadline_days": 5,
                 "assignees": [{"party": "系部", "role": "教学秘书"}]}, *OFFICE_TASK]),
]}
TEACHERS_SPEC = spec(  # teachers take part: it shows in their 日程
    "9.10", "测试核对", {"kind": "every_n_weeks", "label": "每4周一次", "every": 4},
    steps=[{"id": "check", "title": "核对", "label": "核对材料", "owner": "系部", "kind": "task",
            "assignees": [{"party": "系部", "role": "任课教师"}]}])

# When each test window's reminder goes out (local), by hand from the 校历: three working days
# before the window opens (2 for 9.6), skipping 国庆 and weekends; one late at the first tick.
EXPECTED_OPENS = {
    "9.1": ["2026-09-01 08:30",  # 在校生学年注册 09-01: due 08-27, before the bot ran → once, at the first slot
            "2026-09-28 08:30",  # 新生学籍注册 10-08: 10-01..07 are 国庆
            "2027-06-16 08:30",  # 毕业生学历注册 06-20 (a Sunday)
            "2027-08-27 08:30"],  # 在校生学年注册 2027-09-01
    "9.2": ["2026-12-09 08:30", "2027-06-02 08:30"],  # 第15周 = 12-14 and 06-07
    "9.3": ["2026-09-02 08:30", "2026-09-28 08:30", "2026-10-28 08:30", "2026-11-25 08:30", "2026-12-23 08:30",
            "2027-02-24 08:30", "2027-03-26 12:00",  # due 03-24 while the bot was down: sent once after restart
            "2027-04-21 08:30", "2027-05-19 08:30", "2027-06-16 08:30"],
    "9.4": ["2026-09-01 08:30", "2026-09-28 08:30", "2026-10-28 08:30", "2026-11-26 08:30", "2026-12-29 08:30",
            "2027-02-24 08:30", "2027-03-29 08:30", "2027-04-28 08:30", "2027-05-27 08:30", "2027-06-28 08:30"],
    "9.5": ["2026-09-02 08:30", "2027-02-24 08:30"],  # 秋季 09-07, 春季 03-01
    "9.7": ["2026-10-21 08:30"],
}


class Year:
    """Steps the clock, ticks, delivers, and remembers what each person saw at which local time."""

    def __init__(self, w, specs: dict[str, WorkflowSpec]):
        self.w = w
        self.clock = ManualClock(bj(YEAR[0], "00:10"))
        self.core = w.core
        self.core.specs = specs
        self.core.clock = self.clock
        self.seen: list[tuple[datetime, dict]] = []  # (local time, delivered message)

    async def at(self, when: datetime):
        core = self.core
        self.clock.set(when)
        mark = self.w.mark()
        report = await core.reminders.tick()
        if report.sent:
            await core.drainer.drain_until_idle()
        self.seen += [(local(when), m) for m in self.w.since(mark)]
        return report

    def got(self, userid: str, title: str = "", text: str = "") -> list[tuple[datetime, dict]]:
        return [(t, m) for t, m in self.seen if m["userid"] == userid and title in m["content"]
                and (not text or text in (card_text(m["card"]) if m["card"] else m["content"]))]

    def card(self, userid: str, title: str) -> dict:
        cards = [m["card"] for t, m in self.got(userid, title) if m["card"]]
        assert cards, f"{userid} got no card {title!r}"
        return cards[-1]

    async def act(self, userid: str, card: dict, button: str) -> None:
        mark = self.w.mark()
        await self.w.click(userid, card, button, create_time=int(time.time()) + len(self.seen))
        self.seen += [(local(self.clock.now), m) for m in self.w.since(mark)]


async def rows(core: BotCore, prefix: str = "") -> dict[str, Reminder]:
    async with core.db.session() as s:
        found = (await s.execute(select(Reminder).where(Reminder.key.startswith(prefix)))).scalars().all()
    return {r.key: r for r in found}


def fmt(utc: datetime | None) -> str:
    return local(utc).strftime("%Y-%m-%d %H:%M") if utc else ""


async def test_school_year(wecom):
    w = wecom
    year = Year(w, {**default_specs(), **TEST_SPECS})
    cal = year.core.reminders.calendar
    day = YEAR[0]
    restarted = False
    while day <= YEAR[1]:
        for hhmm in TICKS:
            now = bj(day, hhmm)
            if bj("2027-03-23", "12:00") < now < bj("2027-03-26", "12:00"):
                continue  # the bot is down
            if now == bj("2027-03-26", "12:00") and not restarted:
                # A new process over the same database: no memory but the rows.
                year.core = w.core = second_core(year.core, year.clock)
                restarted = True
            await year.at(now)
            await script(year, now)
        day += timedelta(days=1)

    reminders = await rows(year.core)
    sent = {k: r for k, r in reminders.items() if r.status == "sent"}

    # -- window openings of the test specs: exactly the expected ones, each once --------------
    for code, expected in EXPECTED_OPENS.items():
        got = sorted(fmt(r.sent_at) for k, r in sent.items() if k.startswith(f"open:{code}:"))
        assert got == expected, code
        cards = year.got("wangjw", f"工作提醒：{code} ")
        assert len(cards) == len(expected), code
        assert sorted(t.strftime("%Y-%m-%d %H:%M") for t, _ in cards) == expected, code
    firsts = [card_text(m["card"]) for _, m in year.got("liuyf", "工作提醒：9.1 ")]
    assert "在校生学年注册，已于9月1日（周二）开始，点“启动”即可发起。" in firsts[0]  # sent on the day itself
    assert "新生学籍注册，将于10月8日（周四）开始" in firsts[1]
    assert [m["card"] for _, m in year.got("wangjw", "工作提醒：9.1 ")][0]["button_list"][0]["text"] == "启动"

    # -- the real specs: one reminder per window due in the year (or missed by < 14 days) -------
    expected = {
        f"open:{s.code}:{cw.label[:80]}:{cw.start}"
        for s in default_specs().values() for win in s.windows
        for cw in cal.resolve(win, date(2026, 9, 1), date(2027, 10, 31))
        if date(2026, 8, 18) <= cw.opens_remind_on <= YEAR[1]
    }
    assert expected and {k for k in sent if k.startswith("open:") and not k.startswith("open:9.")} == expected

    # -- never on a weekend or holiday, never outside 08:30-17:30, never twice ------------------
    for k, r in sent.items():
        t = local(r.sent_at)
        assert cal.is_workday(t.date()) and "08:30" <= t.strftime("%H:%M") < "17:30", (k, t)
    for t, m in year.seen:
        assert cal.is_workday(t.date()) and "08:30" <= t.strftime("%H:%M") < "17:30", (t, m["content"])
        assert not (date(2026, 10, 1) <= t.date() <= date(2026, 10, 7)), (t, m["content"])
    titles = Counter((m["userid"], m["content"], card_text(m["card"]) if m["card"] else "") for _, m in year.seen
                     if m["content"].startswith(("工作提醒", "本周工作提要")))
    assert max(titles.values()) == 1, [k for k, v in titles.items() if v > 1][:3]

    # -- Monday digests: to 教务处, on the week's first working day; none in a week of holidays ---
    digests = {k: r for k, r in reminders.items() if k.startswith("digest:")}
    assert fmt(digests["digest:2026-W37"].sent_at) == "2026-09-07 08:30"
    assert fmt(digests["digest:2026-W41"].sent_at) == "2026-10-08 08:30"  # Monday 10-05 is 国庆
    assert "digest:2027-W06" not in digests  # 春节: 02-08 … 02-14 has no working day
    for k, r in digests.items():
        if r.status == "sent" and k != "digest:2026-W36":  # W36's Monday was before the bot started
            t = local(r.sent_at).date()
            monday = t - timedelta(days=t.weekday())
            first = next(monday + timedelta(days=i) for i in range(7) if cal.is_workday(monday + timedelta(days=i)))
            assert t == first and k == f"digest:{monday.isocalendar()[0]}-W{monday.isocalendar()[1]:02d}", k
    assert sum(r.status == "sent" for r in digests.values()) > 30
    w37 = [m["content"] for t, m in year.got("wangjw", "本周工作提要") if t.date() == date(2026, 9, 7)]
    assert len(w37) == 1 and "9.3 测试课时（每4周一次）：9月7日至9月11日，本周内" in w37[0]
    assert len(year.got("liuyf", "本周工作提要")) == len(year.got("wangjw", "本周工作提要"))
    w45 = [m["content"] for t, m in year.got("wangjw", "本周工作提要") if t.date() == date(2026, 11, 2)][0]
    assert "测试限期“报送材料”" in w45 and "经济管理系 蔡琴华" in w45 and "郭燕" not in w45
    assert not [t for t, m in year.got("wangjw", "本周工作提要") if "测试限期“" in m["content"]
                and t.date() > date(2026, 11, 10)]  # done by then

    # -- deadline and overdue reminders of the 9.7 run ---------------------------------------
    assert [t.strftime("%m-%d %H:%M") for t, _ in year.got("guoyan", "截止提醒")] == ["10-23 08:30"]
    assert [t.strftime("%m-%d %H:%M") for t, _ in year.got("caiqh", "截止提醒")] == ["10-23 08:30"]
    assert not year.got("linms", "截止提醒") and not year.got("linms", "逾期提醒")  # done the day before
    assert "将于 10-26 12:00 截止" in year.got("guoyan", "截止提醒")[0][1]["content"]
    for who in ("guoyan", "caiqh", "yeqing"):
        assert [t.strftime("%m-%d %H:%M") for t, _ in year.got(who, "逾期提醒")] == ["10-26 12:00"]
        assert any("【催办】待办理：测试限期" in m["content"] for t, m in year.got(who) if t.date() == date(2026, 10, 26))
    for dept in ("信息工程系", "经济管理系", "通识教育部"):
        (t, m), = year.got(HEAD[dept], "逾期提醒")
        assert t.strftime("%m-%d %H:%M") == "10-26 12:00"
        assert f"{dept}尚未办理：" in m["content"] and "报送材料" in m["content"]
    assert not year.got(HEAD["机电工程系"], "逾期提醒")
    linms_task = next(r for k, r in reminders.items() if k.startswith("deadline:task:") and r.status == "skipped")
    assert linms_task.note == "已办结"

    # -- the automatic start (9.6), due while the bot was down --------------------------------
    assert fmt(sent["start:9.6:自动:2027-03-26"].sent_at) == "2027-03-26 12:00"
    assert reminders["open:9.6:自动:2027-03-26"].status == "skipped"  # the heads-up is moot once started
    started = year.got("wangjw", text="已按校历自动启动")
    assert len(started) == 1 and started[0][0] == datetime(2027, 3, 26, 12, 0)
    async with year.core.db.session() as s:
        runs = (await s.execute(select(Run).where(Run.code == "9.6"))).scalars().all()
    assert len(runs) == 1
    await year.core.db.dispose()


async def script(year: Year, now: datetime) -> None:
    """What people do during the year: start 9.7 from its card, then finish (or not) their part."""
    if now == bj("2026-10-21", "12:00"):
        card = year.card("wangjw", "工作提醒：9.7 ")
        await year.act("wangjw", card, "启动")
        assert any("已启动：测试限期" in m["content"] for _, m in year.got("wangjw"))
        await year.act("liuyf", year.card("liuyf", "工作提醒：9.7 "), "启动")  # the other 教务处 colleague
        assert "已经启动" in year.got("liuyf")[-1][1]["content"]
    elif now == bj("2026-10-22", "12:00"):
        await year.act("linms", year.card("linms", "待办理：测试限期"), "办结")
    elif now == bj("2026-10-27", "12:00"):
        await year.act("guoyan", year.card("guoyan", "待办理：测试限期"), "办结")
    elif now == bj("2026-11-10", "12:00"):
        await year.act("caiqh", year.card("caiqh", "待办理：测试限期"), "办结")
        await year.act("yeqing", year.card("yeqing", "待办理：测试限期"), "办结")


# --- restarts, concurrency and stale claims ---------------------------------------------------


def second_core(core: BotCore, clock) -> BotCore:
    other = BotCore(core.settings, Database(core.settings.database_url),
                    senders=core.senders, specs=core.specs, hooks=core.engine.hooks)
    other.clock = clock
    return other


async def test_concurrent_ticks_never_double_send(wecom):
    w = wecom
    clock = ManualClock(bj("2026-09-01", "08:30"))
    core = w.core
    core.specs, core.clock = dict(TEST_SPECS), clock
    other = second_core(core, clock)
    seen: Counter[str] = Counter()
    day = date(2026, 9, 1)
    while day <= date(2026, 10, 31):
        clock.set(bj(day, "08:30"))
        a, b = await asyncio.gather(core.reminders.tick(), other.reminders.tick())
        assert not set(a.sent) & set(b.sent)
        seen.update(a.sent + b.sent)
        day += timedelta(days=1)
    assert seen and max(seen.values()) == 1
    reminders = await rows(core)
    assert {k for k, r in reminders.items() if r.status == "sent"} == set(seen)
    await core.settle()
    opens = [m for m in w.fake.sent_messages() if m["userid"] == "wangjw" and m["content"].startswith("工作提醒")]
    assert len(opens) == len([k for k in seen if k.startswith("open:")])
    await other.db.dispose()


async def test_stale_claim_is_taken_over_once(wecom):
    w = wecom
    clock = ManualClock(bj("2026-09-02", "08:30"))
    core = w.core
    core.specs, core.clock = {"9.3": TEST_SPECS["9.3"]}, clock
    svc = core.reminders
    await svc.planner.plan(core.db, clock())
    ids = await svc.sender._due_ids(clock())
    claimed = await svc.sender._claim(ids, clock())  # …and then this process dies
    assert [r.key for r in claimed] == ["digest:2026-W36", "open:9.3:每4周一次:2026-09-07"]

    other = second_core(core, clock)
    clock.advance(minutes=5)
    assert (await other.reminders.tick()).sent == []  # the claim is still fresh
    clock.advance(seconds=CLAIM_TIMEOUT.total_seconds())
    report = await other.reminders.tick()
    assert report.sent == ["open:9.3:每4周一次:2026-09-07"] and report.skipped == ["digest:2026-W36"]
    # the dead process wakes up and finishes its old claim: its transaction rolls back
    assert await svc.sender._deliver(claimed[1], clock()) is None
    assert (await core.reminders.tick()).sent == [] and (await other.reminders.tick()).sent == []
    await core.settle()
    assert len([m for m in w.fake.sent_messages() if m["content"].startswith("工作提醒：9.3")]) == 2  # wangjw, liuyf
    await other.db.dispose()


async def test_outside_working_hours_defers(wecom):
    core = wecom.core
    clock = ManualClock(bj("2026-09-25", "20:00"))  # a Friday evening; 09-26/27 are 中秋
    core.specs, core.clock = {"9.4": TEST_SPECS["9.4"]}, clock
    report = await core.reminders.tick()  # plans 10-01's reminder (due 09-28 08:30) and the digests
    assert report.sent == [] and report.deferred == 1  # this week's digest, due Monday: not at night
    assert fmt((await rows(core, "digest:2026-W39"))["digest:2026-W39"].due_at) == "2026-09-28 08:30"
    clock.set(bj("2026-09-28", "07:00"))
    assert (await core.reminders.tick()).sent == []
    clock.set(bj("2026-09-28", "08:30"))
    report = await core.reminders.tick()
    assert sorted(report.sent) == ["digest:2026-W40", "open:9.4:每月:2026-10-01"]
    assert report.skipped == ["digest:2026-W39"]  # its week is over
    # a row found due at night (the bot was down all day) moves to the next working slot
    async with core.db.session() as s:
        s.add(Reminder(key="open:9.4:test:2026-10-09", kind="window_open", due_at=bj("2026-09-30", "09:00"),
                       payload={"code": "9.4", "label": "测试", "start": "2026-10-09", "end": "2026-10-10",
                                "opens": "2026-09-30", "auto_start": False}))
    clock.set(bj("2026-09-30", "23:00"))
    report = await core.reminders.tick()
    assert report.deferred == 1 and report.sent == []
    assert fmt((await rows(core, "open:9.4:test"))["open:9.4:test:2026-10-09"].due_at) == "2026-10-08 08:30"
    for d in ("2026-10-01", "2026-10-05", "2026-10-07"):
        clock.set(bj(d, "10:00"))
        assert (await core.reminders.tick()).sent == []
    clock.set(bj("2026-10-08", "08:30"))
    assert "open:9.4:test:2026-10-09" in (await core.reminders.tick()).sent


# --- chat: 本周, 日程 and the one-tap 启动 -------------------------------------------------------


async def test_week_and_schedule_commands(wecom):
    w = wecom
    clock = ManualClock(bj("2026-10-21", "09:00"))  # Wednesday of 第7周
    w.core.specs, w.core.clock = {**TEST_SPECS, "9.10": TEACHERS_SPEC}, clock
    await w.core.reminders.tick()
    await w.core.settle()
    await w.click("wangjw", w.last_card("wangjw"), "启动")  # 9.7: tasks due 10-26 09:00
    assert "已启动：测试限期" in w.last_text("wangjw")

    await w.say("guoyan", "本周")
    text = w.last_text("guoyan")
    assert text.startswith("本周（10月19日（周一）至10月25日（周日））与您有关的工作")
    assert "本周没有需要您办理或截止的工作" in text  # due next Monday, not this week
    assert "另有 1 项待办不在本周截止" in text
    clock.set(bj("2026-10-26", "10:00"))
    await w.say("guoyan", "本周")
    text = w.last_text("guoyan")
    assert "已逾期 1 项" in text and "测试限期“报送材料”（10-26 09:00 截止）" in text
    assert "9.7 测试限期（第8周）：10月26日至11月1日" in text  # 教学秘书 work on 9.7
    assert "9.3" not in text  # 教务处 work only

    clock.set(bj("2026-11-20", "10:00"))
    await w.say("wangjw", "日程")
    text = w.last_text("wangjw")
    assert "近 30 天（至12月20日）的工作安排" in text
    assert "· 11月30日（周一） 9.3 测试课时（每4周一次），至12月4日" in text
    assert "· 12月14日（周一） 9.2 测试评教（每学期第15-16周），至12月27日" in text
    assert "· 9.5 测试季节（2026年秋季），11月29日截止" in text
    await w.say("sunlt", "日程")  # a teacher: only what teachers take part in
    text = w.last_text("sunlt")
    assert "9.10 测试核对" in text and "9.3" not in text and "9.2" not in text
    clock.set(bj("2027-07-20", "10:00"))
    await w.say("sunlt", "日程")
    assert "没有与您有关的工作安排" in w.last_text("sunlt")
    await w.say("wangjw", "帮助")
    assert "本周 — 本周与我有关的工作" in w.last_text("wangjw") and "日程 — 近期需要我参与的工作" in w.last_text("wangjw")


async def test_window_button_checks_and_starts_once(wecom):
    w = wecom
    clock = ManualClock(bj("2026-11-04", "09:00"))
    one_flow = spec("9.8", "测试单支", {"kind": "teaching_weeks", "label": "第10周", "semesters": [1], "weeks": [10, 10]})
    two_flows = WorkflowSpec.model_validate({
        "code": "9.9", "name": "测试两支", "category": "教学运行",
        "windows": [{"kind": "teaching_weeks", "label": "第10周", "semesters": [1], "weeks": [10, 10]}],
        "flows": [{"id": "a", "name": "甲", "steps": OFFICE_TASK}, {"id": "b", "name": "乙", "steps": OFFICE_TASK}]})
    w.core.specs, w.core.clock = {"9.8": one_flow, "9.9": two_flows}, clock
    assert "open:9.8:第10周:2026-11-09" in (await w.core.reminders.tick()).sent
    await w.core.settle()
    card8 = next(c for c in w.cards("wangjw") if "9.8" in c["main_title"]["title"])
    card9 = next(c for c in w.cards("wangjw") if "9.9" in c["main_title"]["title"])
    assert "将于11月9日（周一）开始" in card_text(card8)

    await w.click("sunlt", card8, "启动")  # a teacher with a copied key
    assert "由教务处发起" in w.last_text("sunlt")
    await w.click("wangjw", card8, "启动")
    assert "已启动：测试单支" in w.last_text("wangjw")
    assert w.fake.card_updates or w.fake.calls_to("/cgi-bin/message/update_template_card")
    await w.click("wangjw", card8, "启动", create_time=int(time.time()) + 7)  # double tap
    assert "已经启动" in w.last_text("wangjw")
    await w.click("liuyf", next(c for c in w.cards("liuyf") if "9.8" in c["main_title"]["title"]), "启动")
    assert "已经启动" in w.last_text("liuyf") and "王建伟发起" in w.last_text("liuyf")

    await w.click("wangjw", card9, "启动")  # two branches, the label names neither: asks which
    assert "甲" in w.last_text("wangjw") and "乙" in w.last_text("wangjw")
    await w.click("liuyf", next(c for c in w.cards("liuyf") if "9.9" in c["main_title"]["title"]), "启动")
    assert "王建伟 已点了“启动”" in w.last_text("liuyf")
    await w.say("wangjw", "1")
    assert "已启动：测试两支（甲）" in w.last_text("wangjw")
    async with w.core.db.session() as s:
        counts = Counter((await s.execute(select(Run.code))).scalars())
    assert counts == {"9.8": 1, "9.9": 1}

    await w.click("wangjw", {"task_id": "x", "button_list": [{"text": "启动", "key": "window:999:start"}]}, "启动")
    assert "已失效" in w.last_text("wangjw")


def test_window_label_picks_its_branch():
    branches = WorkflowSpec.model_validate({
        "code": "9.9", "name": "测试考试", "category": "教学运行",
        "windows": [{"kind": "semester_phase", "label": "期末考试", "phase": "期末"}],
        "flows": [{"id": "makeup", "name": "开学补考及毕业大补考", "steps": OFFICE_TASK},
                  {"id": "final", "name": "期末考试", "steps": OFFICE_TASK}]})
    assert flow_for_label(branches, "期末考试") == "final"
    assert flow_for_label(branches, "开学补考") == "makeup"
    assert flow_for_label(branches, "毕业大补考（每年5月）") == "makeup"
    assert flow_for_label(branches, "第10周") is None  # 启动 then asks which
    assert flow_for_label(TEST_SPECS["9.1"], "新生学籍注册") is None  # one flow: nothing to pick


async def test_reminder_service_starts_its_job_and_ticks(wecom):
    core = wecom.core
    core.specs, core.clock = {"9.3": TEST_SPECS["9.3"]}, ManualClock(bj("2026-09-02", "08:30"))
    scheduler = core.reminders.start(seconds=3600)
    key = "open:9.3:每4周一次:2026-09-07"
    try:
        assert len(scheduler.get_jobs()) == 1
        for _ in range(200):  # the job fires at once on start
            found = await rows(core, key)
            if key in found and found[key].status == "sent":
                break
            await asyncio.sleep(0.02)
        assert (await rows(core, key))[key].status == "sent"
    finally:
        await core.reminders.stop()
    assert core.reminders.scheduler is None


async def test_task_rows_for_a_run(wecom):
    """Deadline and overdue rows come from open tasks; a task done first is skipped, not sent."""
    w = wecom
    clock = ManualClock(bj("2026-10-21", "09:00"))
    w.core.specs, w.core.clock = {"9.7": TEST_SPECS["9.7"]}, clock
    await w.core.reminders.tick()
    await w.core.settle()
    await w.click("wangjw", w.last_card("wangjw"), "启动")
    await w.core.reminders.tick()
    async with w.core.db.session() as s:
        tasks = (await s.execute(select(Task).order_by(Task.id))).scalars().all()
    keys = set(await rows(w.core, "deadline:")) | set(await rows(w.core, "overdue:"))
    assert keys == {f"deadline:task:{t.id}" for t in tasks} | {f"overdue:task:{t.id}" for t in tasks} | {
        f"overdue:head:{tasks[0].run_id}:0:{d}" for d in SECRETARY}
    assert {fmt(r.due_at) for r in (await rows(w.core, "deadline:")).values()} == {"2026-10-23 08:30"}
    assert {fmt(r.due_at) for r in (await rows(w.core, "overdue:")).values()} == {"2026-10-26 09:00"}
    for t in tasks:
        card = next(c for c in w.cards(t.assignee) if "测试限期" in c["main_title"]["title"])
        await w.click(t.assignee, card, "办结")
    clock.set(bj("2026-10-26", "10:00"))
    report = await w.core.reminders.tick()
    assert report.sent == ["digest:2026-W44"]  # 9.7's window opens this week; nothing overdue
    assert len(report.skipped) == 2 * len(tasks) + len(SECRETARY)
