"""Reminders: one APScheduler job is the clock, the ``reminders`` table is the memory.

Every minute ``tick`` plans the rows for the next weeks (idempotent by ``key``) and
sends what is due. Nothing is pickled into a job store, so a restart, a second
process or a changed spec never loses or repeats a reminder:

- a row is claimed by compare-and-set (pending → claimed) before it is touched;
- its messages go into the outbox in the transaction that marks it ``sent`` — if the
  claim was taken over meanwhile, that transaction rolls back and sends nothing;
- a claim older than CLAIM_TIMEOUT belonged to a dead process and may be taken over;
- outside working hours (``Settings.work_hours`` on 校历 working days) a due row is
  deferred to the next working slot instead of sent, so a reminder that fell due while
  the bot was down (or at night) goes out once, at the next working moment.

Rows (kind — key — to whom):

- window_open — ``open:<code>:<label>:<start>`` — the workflow's owners, lead_days before
  the window opens, with 启动 as one tap (or a heads-up when the window starts itself);
- window_start — ``start:<code>:<label>:<start>`` — windows with ``auto_start``: the run
  starts by itself on the window's first working day;
- deadline — ``deadline:task:<id>`` — the assignee, a working day before the task is due;
- overdue — ``overdue:task:<id>`` — the assignee again once it is past due;
- overdue_head — ``overdue:head:<run>:<step>:<系部>`` — that 系部's 系部主任, once per step;
- digest — ``digest:<ISO week>`` — 教务处, on the week's first working day.
"""
from __future__ import annotations

import asyncio

import logging
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Iterable
from weakref import WeakKeyDictionary
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot import directory, outbox
from bot.calendar import ConcreteWindow, SchoolCalendar, default_calendar, load_calendar
from bot.config import Settings
from bot.db import Database
from bot.engine import EngineError
from workflow.spec import WorkflowSpec
from models import Reminder, Run, Task

if TYPE_CHECKING:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    from bot.core import BotCore

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]  # naive UTC, like every stored time

TICK_SECONDS = 60
JOB_ID = "campusbot-reminders"
HORIZON_DAYS = 30  # rows are planned this far ahead
CATCH_UP_DAYS = 14  # a window reminder missed by less than this is still sent (late) …
CLAIM_TIMEOUT = timedelta(minutes=10)  # … and a claim older than this is a dead process's
DEADLINE_LEAD_WORKDAYS = 1  # the deadline reminder goes out this many working days before
BATCH = 100
_LEAD_MARGIN_DAYS = 62  # lead_days ≤ 30 working days, holidays included
_LABEL_MAX = 80  # keys stay well inside String(255)


class ManualClock:
    """A clock tests and dry runs set by hand; ``core.clock = ManualClock(...)``."""

    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def set(self, now: datetime) -> None:
        self.now = now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


# --- working time ------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkingTime:
    """When people may be messaged: working hours, local time, on 校历 working days."""

    cal: SchoolCalendar
    start: time
    end: time
    tz: ZoneInfo

    @classmethod
    def from_settings(cls, settings: Settings, cal: SchoolCalendar) -> "WorkingTime":
        a, b = (time.fromisoformat(t.strip().zfill(5)) for t in settings.work_hours.split("-"))
        if a >= b:
            raise ValueError(f"CAMPUSBOT_WORK_HOURS: {settings.work_hours} 的开始时间应早于结束时间")
        return cls(cal, a, b, ZoneInfo(settings.timezone))

    def local(self, utc: datetime) -> datetime:
        """Naive UTC → naive local time."""
        return utc.replace(tzinfo=timezone.utc).astimezone(self.tz).replace(tzinfo=None)

    def utc(self, local: datetime) -> datetime:
        """Naive local time → naive UTC."""
        return local.replace(tzinfo=self.tz).astimezone(timezone.utc).replace(tzinfo=None)

    def today(self, utc: datetime) -> date:
        return self.local(utc).date()

    def contains(self, utc: datetime) -> bool:
        loc = self.local(utc)
        return self.cal.is_workday(loc.date()) and self.start <= loc.time() < self.end

    def slot(self, day: date) -> datetime:
        """The start of working hours on ``day``, or on the first working day after it (UTC)."""
        while not self.cal.is_workday(day):
            day += timedelta(days=1)
        return self.utc(datetime.combine(day, self.start))

    def next_slot(self, utc: datetime) -> datetime:
        """``utc`` itself inside working time, else the next start of working hours."""
        if self.contains(utc):
            return utc
        loc = self.local(utc)
        if self.cal.is_workday(loc.date()) and loc.time() < self.start:
            return self.slot(loc.date())
        return self.slot(loc.date() + timedelta(days=1))

    def week_of(self, utc: datetime) -> tuple[date, date]:
        """Monday and Sunday of the local week."""
        monday = self.today(utc) - timedelta(days=self.today(utc).weekday())
        return monday, monday + timedelta(days=6)


@lru_cache(maxsize=8)
def _calendar_at(path: str) -> SchoolCalendar:
    return load_calendar(Path(path))


def calendar_for(settings: Settings) -> SchoolCalendar:
    """The 校历 named by these settings (loaded once), else the configured default."""
    return _calendar_at(str(settings.calendar_file)) if settings.calendar_file else default_calendar()


def week_key(day: date) -> str:
    """ISO week, e.g. 2026-W37: the digest's key."""
    y, w, _ = day.isocalendar()
    return f"{y}-W{w:02d}"


# --- planning ----------------------------------------------------------------------------


class ReminderPlanner:
    """Computes the rows for the coming weeks and inserts the missing ones by ``key``.

    Windows and digests are planned once per local day per process (they only change
    with the date); tasks on every tick, but only those newer than the last seen (a
    full pass each day catches a task committed out of id order).
    """

    def __init__(self, core: "BotCore", hours: WorkingTime):
        self.core = core
        self.hours = hours
        self.planned_day: date | None = None
        self.last_task_id = 0
        self._resolved: dict[int, tuple[Any, date, date, list[ConcreteWindow]]] = {}
        self.known: dict[str, datetime] = {}  # keys already in the table, so a daily pass asks little

    @property
    def cal(self) -> SchoolCalendar:
        return self.hours.cal

    async def plan(self, db: Database, now: datetime) -> int:
        """Insert every missing row due within the horizon; returns how many were new."""
        async with db.session() as s:
            added, done = await self.plan_in(s, now)
        done()
        return added

    async def plan_in(self, s: AsyncSession, now: datetime,
                      newest: int | None = None) -> tuple[int, Callable[[], None]]:
        """``plan`` inside the caller's transaction; call the returned function once it committed.

        ``newest``: the highest task id, when the caller already looked it up.
        """
        today = self.hours.today(now)
        full = today != self.planned_day
        rows: list[dict] = []
        if full:
            rows += self.window_rows(today)
            rows += self.digest_rows(today)
        if newest is None:
            newest = (await s.execute(select(func.max(Task.id)))).scalar() or 0
        if full or newest > self.last_task_id:  # most ticks: no new task, one cheap query
            rows += await self.task_rows(s, 0 if full else self.last_task_id)
        rows = [r for r in rows if r["key"] not in self.known]
        added = await _insert_missing(s, rows)

        def done() -> None:
            self.last_task_id = max(self.last_task_id, newest)
            self.planned_day = today
            self.known.update((r["key"], r["due_at"]) for r in rows)
            if full:  # forget rows too old to be planned again
                old = now - timedelta(days=CATCH_UP_DAYS + 1)
                self.known = {k: due for k, due in self.known.items() if due >= old}
        return added, done

    def window_rows(self, today: date) -> list[dict]:
        """Window reminders due from CATCH_UP_DAYS ago to HORIZON_DAYS ahead, windows not yet over."""
        lo, hi = today - timedelta(days=CATCH_UP_DAYS), today + timedelta(days=HORIZON_DAYS)
        rows: list[dict] = []
        for spec in self.core.specs.values():
            for window in spec.windows:
                for w in self._concrete(window, today, hi + timedelta(days=_LEAD_MARGIN_DAYS)):
                    label = w.label[:_LABEL_MAX]
                    payload = {"code": spec.code, "label": w.label, "start": w.start.isoformat(),
                               "end": w.end.isoformat(), "opens": w.opens_remind_on.isoformat(),
                               "auto_start": window.auto_start}
                    heads_up = not (window.auto_start and window.lead_days == 0)
                    if heads_up and lo <= w.opens_remind_on <= hi:
                        rows.append(_row(f"open:{spec.code}:{label}:{w.start}", "window_open",
                                         self.hours.slot(w.opens_remind_on), payload))
                    if window.auto_start:
                        starts = self.hours.slot(w.start)
                        if lo <= self.hours.today(starts) <= hi and self.hours.today(starts) <= w.end:
                            rows.append(_row(f"start:{spec.code}:{label}:{w.start}", "window_start", starts, payload))
        return rows

    def _concrete(self, window: Any, lo: date, hi: date) -> list[ConcreteWindow]:
        """``cal.resolve`` over lo..hi, from a year-wide cache: planning runs every day."""
        hit = self._resolved.get(id(window))
        if hit is None or hit[0] is not window or lo < hit[1] or hi > hit[2]:
            a, b = lo - timedelta(days=CATCH_UP_DAYS), hi + timedelta(days=366)
            hit = self._resolved[id(window)] = (window, a, b, self.cal.resolve(window, a, b))
        return [w for w in hit[3] if w.start <= hi and w.end >= lo]

    def digest_rows(self, today: date) -> list[dict]:
        """This week's digest and the coming weeks', on each week's first working day."""
        monday = today - timedelta(days=today.weekday())
        hi = today + timedelta(days=HORIZON_DAYS)
        rows: list[dict] = []
        while monday <= hi:
            first = next((monday + timedelta(days=i) for i in range(7)
                          if self.cal.is_workday(monday + timedelta(days=i))), None)
            if first is not None and first <= hi:  # a week of holidays has no digest
                key = week_key(monday)
                rows.append(_row(f"digest:{key}", "digest", self.hours.slot(first),
                                 {"week": key, "monday": monday.isoformat()}))
            monday += timedelta(days=7)
        return rows

    async def task_rows(self, s: AsyncSession, since_id: int) -> list[dict]:
        """Deadline and overdue rows for open workflow tasks with a due time (notices have their own 催办)."""
        q = (select(Task).join(Run, Run.id == Task.run_id)
             .where(Task.status == "open", Task.due_at.is_not(None), Task.id > since_id,
                    Run.status == "open", Run.code.in_(list(self.core.specs)))
             .order_by(Task.id))
        tasks = (await s.execute(q)).scalars().all()
        rows: list[dict] = []
        heads: dict[tuple[int, int, str], datetime] = {}
        for t in tasks:
            remind = self.hours.slot(self.cal.add_workdays(self.hours.today(t.due_at), -DEADLINE_LEAD_WORKDAYS))
            if t.created_at < remind < t.due_at:
                rows.append(_row(f"deadline:task:{t.id}", "deadline", remind, {"task_id": t.id, "run_id": t.run_id}))
            late = self.hours.next_slot(t.due_at)
            rows.append(_row(f"overdue:task:{t.id}", "overdue", late, {"task_id": t.id, "run_id": t.run_id}))
            if t.department and t.department != "教务处":
                k = (t.run_id, t.step_index, t.department)
                heads[k] = min(heads.get(k, late), late)
        for (run_id, step_index, dept), due in heads.items():
            rows.append(_row(f"overdue:head:{run_id}:{step_index}:{dept}", "overdue_head", due,
                             {"run_id": run_id, "step_index": step_index, "department": dept}))
        return rows


def _row(key: str, kind: str, due_at: datetime, payload: dict) -> dict:
    return {"key": key, "kind": kind, "due_at": due_at, "payload": payload, "status": "pending",
            "claimed_by": "", "note": ""}


async def _insert_missing(s: AsyncSession, rows: list[dict]) -> int:
    """Insert rows whose key is new; a key another process inserted meanwhile is ignored."""
    rows = list({r["key"]: r for r in rows}.values())
    if not rows:
        return 0
    existing: set[str] = set()
    keys = [r["key"] for r in rows]
    for i in range(0, len(keys), 500):
        existing.update((await s.execute(select(Reminder.key).where(Reminder.key.in_(keys[i:i + 500])))).scalars())
    new = [r for r in rows if r["key"] not in existing]
    if not new:
        return 0
    if s.bind.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:
        from sqlalchemy.dialects.postgresql import insert
    for i in range(0, len(new), 200):
        await s.execute(insert(Reminder).values(new[i:i + 200]).on_conflict_do_nothing(index_elements=["key"]))
    return len(new)


# --- sending -----------------------------------------------------------------------------


@dataclass
class Outcome:
    status: str  # sent | skipped
    note: str = ""


@dataclass
class TickReport:
    planned: int = 0
    sent: list[str] = field(default_factory=list)  # keys
    skipped: list[str] = field(default_factory=list)
    deferred: int = 0


class _LostClaim(Exception):
    """Another process took the claim over; this transaction must not commit."""


Deliver = Callable[[AsyncSession, Reminder, datetime], Awaitable[Outcome]]


class ReminderSender:
    """Claims due rows by compare-and-set and turns each into outbox rows, once."""

    def __init__(self, core: "BotCore", hours: WorkingTime, worker_id: str | None = None):
        self.core = core
        self.hours = hours
        self.worker_id = worker_id or uuid.uuid4().hex[:12]
        self.kinds: dict[str, Deliver] = {
            "window_open": self._window_open, "window_start": self._window_start,
            "deadline": self._deadline, "overdue": self._overdue, "overdue_head": self._overdue_head,
            "digest": self._digest,
        }

    async def send_due(self, now: datetime, report: TickReport | None = None) -> TickReport:
        """Send (or, outside working time, defer) every row due at ``now``.

        A row whose delivery raised stays claimed; once the claim expires a later tick retries it.
        """
        report = report or TickReport()
        while True:
            ids = await self._due_ids(now)
            if not ids:
                return report
            if not self.hours.contains(now):
                report.deferred += await self._defer(ids, now)
                return report
            claimed = await self._claim(ids, now)
            for row in claimed:
                outcome = await self._deliver(row, now)
                if outcome is not None:
                    (report.sent if outcome.status == "sent" else report.skipped).append(row.key)
            if len(ids) < BATCH:
                return report

    def due_clause(self, now: datetime):
        """Due and claimable: pending, or claimed so long ago that its process must be dead."""
        return and_(Reminder.due_at <= now, or_(
            Reminder.status == "pending",
            and_(Reminder.status == "claimed", Reminder.claimed_at < now - CLAIM_TIMEOUT),
        ))

    async def _due_ids(self, now: datetime) -> list[int]:
        q = select(Reminder.id).where(self.due_clause(now)).order_by(Reminder.due_at, Reminder.id).limit(BATCH)
        async with self.core.db.session() as s:
            return list((await s.execute(q)).scalars())

    async def _defer(self, ids: list[int], now: datetime) -> int:
        """Outside working time: move due rows to the next working slot (stale claims too)."""
        slot = self.hours.next_slot(now)
        async with self.core.db.session() as s:
            res = await s.execute(update(Reminder).where(Reminder.id.in_(ids), self.due_clause(now))
                                  .values(due_at=slot, status="pending", claimed_by="", claimed_at=None)
                                  .execution_options(synchronize_session=False))
        return res.rowcount or 0

    async def _claim(self, ids: list[int], now: datetime) -> list[Reminder]:
        """UPDATE … SET status='claimed' WHERE id IN … AND still claimable: the winner's token sticks."""
        token = f"{self.worker_id}:{uuid.uuid4().hex[:8]}"
        async with self.core.db.session() as s:
            await s.execute(update(Reminder).where(Reminder.id.in_(ids), self.due_clause(now))
                            .values(status="claimed", claimed_by=token, claimed_at=now)
                            .execution_options(synchronize_session=False))
        async with self.core.db.session() as s:
            q = (select(Reminder).where(Reminder.claimed_by == token, Reminder.status == "claimed")
                 .order_by(Reminder.due_at, Reminder.id))
            return list((await s.execute(q)).scalars())

    async def _deliver(self, row: Reminder, now: datetime) -> Outcome | None:
        """Render and enqueue in the transaction that marks the row done; None when it failed."""
        try:
            async with self.core.db.session() as s:
                deliver = self.kinds.get(row.kind)
                outcome = await deliver(s, row, now) if deliver else Outcome("skipped", f"unknown kind {row.kind}")
                res = await s.execute(
                    update(Reminder).where(Reminder.id == row.id, Reminder.status == "claimed",
                                           Reminder.claimed_by == row.claimed_by)
                    .values(status=outcome.status, sent_at=now, note=outcome.note[:2000])
                    .execution_options(synchronize_session=False))
                if res.rowcount != 1:
                    raise _LostClaim(row.key)
        except _LostClaim:
            log.warning("reminder %s was taken over by another process; not sent here", row.key)
            return None
        except Exception as exc:  # the claim expires and another tick retries it
            log.exception("reminder %s failed", row.key)
            async with self.core.db.session() as s:
                await s.execute(update(Reminder).where(Reminder.id == row.id, Reminder.claimed_by == row.claimed_by)
                                .values(note=f"{type(exc).__name__}: {exc}"[:2000]))
            return None
        self.core.after_commit()
        return outcome

    # --- one function per kind: enqueue (or explain why not) --------------------------------

    async def _send(self, s: AsyncSession, userids: Iterable[str], template: str, **values: Any) -> None:
        r = self.core.renderer
        card = template.endswith(".yaml.j2")
        msg = r.card_message(template, **values) if card else r.text_message(template, **values)
        await outbox.enqueue(s, self.core.default_platform, userids, msg)

    def _window(self, row: Reminder) -> tuple[WorkflowSpec | None, dict]:
        p = dict(row.payload)
        for k in ("start", "end", "opens"):
            p[k] = date.fromisoformat(p[k])
        return self.core.specs.get(p["code"]), p

    async def _window_open(self, s: AsyncSession, row: Reminder, now: datetime) -> Outcome:
        spec, w = self._window(row)
        if spec is None:
            return Outcome("skipped", "流程已不存在")
        if self.hours.today(now) > w["end"]:
            return Outcome("skipped", "窗口已结束")
        if w["auto_start"] and self.hours.today(now) >= w["start"]:
            return Outcome("skipped", "窗口已开始，由自动启动处理")
        owners = [p.userid for p in await directory.people_with_role(s, spec.owner)]
        if not owners:
            return Outcome("skipped", f"没有{spec.owner}人员")
        await self._send(s, owners, "reminders/window_open.yaml.j2", spec=spec, window=w, reminder_id=row.id,
                         today=self.hours.today(now))
        return Outcome("sent")

    async def _window_start(self, s: AsyncSession, row: Reminder, now: datetime) -> Outcome:
        spec, w = self._window(row)
        if spec is None:
            return Outcome("skipped", "流程已不存在")
        if self.hours.today(now) > w["end"]:
            return Outcome("skipped", "窗口已结束")
        owners = await directory.people_with_role(s, spec.owner)
        existing = await run_for_window(s, spec.code, self.hours.utc(datetime.combine(w["opens"], time())))
        if existing is not None:
            return Outcome("skipped", f"已有 {existing.record_no}")
        starter = next((p for p in owners if self.core.engine.may_start(p, spec)), None)
        if starter is None:
            return Outcome("skipped", f"没有可发起{spec.code}的{spec.owner}人员")
        flow = flow_for_label(spec, w["label"])
        try:
            run = await self.core.engine.start_run(s, spec, starter, flow_id=flow, data={"window": row.key})
        except EngineError as exc:
            return Outcome("skipped", exc.template)
        await self._send(s, [p.userid for p in owners], "reminders/auto_started.j2", spec=spec, window=w, run=run,
                         starter=starter, steps=self.core.engine.steps(run))
        return Outcome("sent", f"run:{run.id}")

    async def _task(self, s: AsyncSession, row: Reminder) -> tuple[Task | None, Run | None]:
        task = await s.get(Task, row.payload["task_id"])
        run = await s.get(Run, task.run_id) if task else None
        if task is None or run is None or task.status != "open" or run.status != "open" \
                or run.code not in self.core.specs:
            return None, None
        return task, run

    async def _deadline(self, s: AsyncSession, row: Reminder, now: datetime) -> Outcome:
        return await self._task_reminder(s, row, "reminders/deadline.j2", now, before_due=True)

    async def _overdue(self, s: AsyncSession, row: Reminder, now: datetime) -> Outcome:
        return await self._task_reminder(s, row, "reminders/overdue.j2", now, before_due=False)

    async def _task_reminder(self, s: AsyncSession, row: Reminder, template: str, now: datetime,
                             *, before_due: bool) -> Outcome:
        """A reminder text and the task's card again, to whoever still has it open."""
        task, run = await self._task(s, row)
        if task is None:
            return Outcome("skipped", "已办结")
        if before_due and task.due_at and task.due_at <= now:
            return Outcome("skipped", "已逾期，改发逾期提醒")
        step = self.core.engine.steps(run)[task.step_index]
        await self._send(s, [task.assignee], template, run=run, step=step, task=task)
        await self.core.engine.send_task_card(s, run, step, task, reminder=True)
        return Outcome("sent")

    async def _overdue_head(self, s: AsyncSession, row: Reminder, now: datetime) -> Outcome:
        p = row.payload
        run = await s.get(Run, p["run_id"])
        if run is None or run.status != "open" or run.code not in self.core.specs:
            return Outcome("skipped", "已办结")
        late = (await s.execute(select(Task).where(
            Task.run_id == run.id, Task.step_index == p["step_index"], Task.department == p["department"],
            Task.status == "open", Task.due_at <= now).order_by(Task.id))).scalars().all()
        if not late:
            return Outcome("skipped", "已办结")
        assignees = {t.assignee for t in late}
        heads = [h.userid for h in await directory.people_with_role(s, "系部主任", p["department"])
                 if h.userid not in assignees]
        if not heads:
            return Outcome("skipped", "没有系部主任")
        names = await directory.names(s, assignees)
        step = self.core.engine.steps(run)[p["step_index"]]
        await self._send(s, heads, "reminders/overdue_head.j2", run=run, step=step, department=p["department"],
                         names=[names.get(t.assignee, t.assignee) for t in late], due_at=late[0].due_at)
        return Outcome("sent")

    async def _digest(self, s: AsyncSession, row: Reminder, now: datetime) -> Outcome:
        monday = date.fromisoformat(row.payload["monday"])
        if week_key(self.hours.today(now)) != row.payload["week"]:
            return Outcome("skipped", "这一周已过去")
        staff = [p.userid for p in await directory.people_with_role(s, "教务处")]
        if not staff:
            return Outcome("skipped", "没有教务处人员")
        windows = week_windows(self.core.specs, self.cal, monday)
        overdue = await overdue_steps(s, self.core, now)
        if not windows and not overdue:
            return Outcome("skipped", "本周没有工作窗口，也没有逾期事项")
        await self._send(s, staff, "reminders/digest.j2", monday=monday, sunday=monday + timedelta(days=6),
                         windows=windows, overdue=overdue)
        return Outcome("sent")

    @property
    def cal(self) -> SchoolCalendar:
        return self.hours.cal


# --- shared readers (the digest, 本周 and 日程 use them) -------------------------------------


@dataclass(frozen=True)
class WindowItem:
    code: str
    label: str
    start: date
    end: date
    spec: WorkflowSpec = field(compare=False, hash=False)


def week_windows(specs: dict[str, WorkflowSpec], cal: SchoolCalendar, monday: date,
                 only: Callable[[WorkflowSpec], bool] | None = None) -> list[WindowItem]:
    """Windows that open or close in the week starting ``monday``."""
    sunday = monday + timedelta(days=6)
    return [w for w in windows_in(specs, cal, monday, sunday, only)
            if monday <= w.start <= sunday or monday <= w.end <= sunday]


def windows_in(specs: dict[str, WorkflowSpec], cal: SchoolCalendar, start: date, end: date,
               only: Callable[[WorkflowSpec], bool] | None = None) -> list[WindowItem]:
    """Every concrete window overlapping start..end, by start date then code."""
    out = {WindowItem(spec.code, w.label, w.start, w.end, spec)
           for spec in specs.values() if only is None or only(spec)
           for window in spec.windows for w in cal.resolve(window, start, end)}
    return sorted(out, key=lambda w: (w.start, _code_key(w.spec.code), w.end, w.label))


async def overdue_steps(s: AsyncSession, core: "BotCore", now: datetime) -> list[dict]:
    """Open workflow steps with someone past due: run, step, due time and who, one entry per step."""
    rows = (await s.execute(
        select(Task, Run).join(Run, Run.id == Task.run_id)
        .where(Task.status == "open", Task.due_at < now, Run.status == "open", Run.code.in_(list(core.specs)))
        .order_by(Task.due_at, Task.run_id, Task.step_index, Task.id))).all()
    who = await directory.names(s, [t.assignee for t, _ in rows])
    steps: dict[tuple[int, int], dict] = {}
    for t, run in rows:
        item = steps.setdefault((run.id, t.step_index), {
            "run": run, "step": core.engine.steps(run)[t.step_index], "due_at": t.due_at, "people": []})
        label = who.get(t.assignee, t.assignee)
        item["people"].append(f"{t.department} {label}" if t.department and t.department != "教务处" else label)
    return list(steps.values())


async def run_for_window(s: AsyncSession, code: str, since: datetime) -> Run | None:
    """A run of ``code`` started since the window's reminder (not withdrawn): the window's run."""
    return (await s.execute(
        select(Run).where(Run.code == code, Run.created_at >= since, Run.status != "cancelled")
        .order_by(Run.id.desc()).limit(1))).scalar_one_or_none()


def flow_for_label(spec: WorkflowSpec, label: str) -> str | None:
    """The branch a window's label names (1.7 期末考试), when exactly one fits."""
    flows = spec.all_flows()
    if len(flows) == 1:
        return None
    core_label = label.split("（")[0].split("(")[0].strip()
    fits = [f for f in flows if core_label and (core_label in f.name or f.name in core_label)]
    return fits[0].id if len(fits) == 1 else None


def _code_key(code: str) -> tuple[int, ...]:
    return tuple(int(p) for p in code.split(".")) if code.replace(".", "").isdigit() else (10**6,)


# --- wiring ------------------------------------------------------------------------------


class ReminderService:
    """The planner and sender of one BotCore, with the working time they share."""

    def __init__(self, core: "BotCore", cal: SchoolCalendar | None = None):
        self.core = core
        self.hours = WorkingTime.from_settings(core.settings, cal or calendar_for(core.settings))
        self.planner = ReminderPlanner(core, self.hours)
        self.sender = ReminderSender(core, self.hours)

    @property
    def calendar(self) -> SchoolCalendar:
        return self.hours.cal


_services: "WeakKeyDictionary[BotCore, ReminderService]" = WeakKeyDictionary()


def reminders_for(core: "BotCore", cal: SchoolCalendar | None = None) -> ReminderService:
    """The core's reminder service (created once; pass ``cal`` first to use another 校历)."""
    svc = _services.get(core)
    if svc is None or (cal is not None and svc.calendar is not cal):
        svc = _services[core] = ReminderService(core, cal)
    return svc


def school_calendar(core: "BotCore") -> SchoolCalendar:
    return reminders_for(core).calendar


def working_time(core: "BotCore") -> WorkingTime:
    return reminders_for(core).hours


async def tick(core: "BotCore", now: datetime | None = None) -> TickReport:
    """Plan the coming weeks, then send what is due at ``now`` (default ``core.clock()``)."""
    now = now or core.clock()
    svc = reminders_for(core)
    async with core.db.session() as s:  # idle ticks: one transaction, one query
        newest, due = (await s.execute(select(
            select(func.max(Task.id)).scalar_subquery(),
            select(func.min(Reminder.id)).where(svc.sender.due_clause(now)).scalar_subquery(),
        ))).one()
        planned, done = await svc.planner.plan_in(s, now, newest or 0)
    done()
    report = TickReport(planned=planned)
    return await svc.sender.send_due(now, report) if due is not None or planned else report


async def _tick_job(core: "BotCore") -> None:
    core.tick_task = asyncio.current_task()  # so shutdown can let a running tick finish first
    try:
        await tick(core)
    except Exception:  # the next tick tries again; nothing is lost, rows stay pending
        log.exception("reminder tick failed")
    finally:
        core.tick_task = None


def start_scheduler(core: "BotCore", *, seconds: float = TICK_SECONDS) -> "AsyncIOScheduler":
    """Start the one interval job that drives reminders; call from the running event loop.

    The job store is memory only: the job is just the clock, the reminders are rows.
    It fires at once on start, so what fell due while the bot was down goes out now.
    ``scheduler.shutdown(wait=False)`` on cleanup.
    """
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    tz = ZoneInfo(core.settings.timezone)
    scheduler = AsyncIOScheduler(timezone=tz)
    scheduler.add_job(_tick_job, "interval", seconds=seconds, args=[core], id=JOB_ID, max_instances=1,
                      coalesce=True, misfire_grace_time=int(seconds) or 1, next_run_time=datetime.now(tz))
    scheduler.start()
    return scheduler


__all__ = [
    "CLAIM_TIMEOUT", "Clock", "ManualClock", "ReminderPlanner", "ReminderSender", "ReminderService", "TickReport",
    "WorkingTime", "calendar_for", "reminders_for", "school_calendar", "start_scheduler", "tick", "week_key",
    "working_time",
]
