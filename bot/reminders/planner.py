"""Plans the ``reminders`` rows for the coming weeks, idempotent by ``key``.

Rows (kind — key — to whom):

- window_open — ``open:<code>:<label>:<start>`` — the workflow's owners, lead_days before
  the window opens, with 启动 as one tap (or a heads-up when the window starts itself);
- window_start — ``start:<code>:<label>:<start>`` — windows with ``auto_start``: the run
  starts by itself on the window's first working day;
- deadline — ``deadline:task:<id>`` — the assignee, a working day before the task is due;
- overdue — ``overdue:task:<id>`` — the assignee again once it is past due;
- overdue_head — ``overdue:head:<run>:<step>:<系部>`` — that 系部's 系部主任, once per step;
- digest — ``digest:<ISO week>`` — 教务处, on the week's first working day;
- notice — ``notice:<run>`` — a 通知 scheduled on the console (written by bot/notices.py, not planned here).
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Callable

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import Database
from bot.reminders.working_time import WorkingTime, week_key
from models import Reminder, Run, Task
from workflow.calendar import SchoolCalendar
from workflow.windows import ConcreteWindow

if TYPE_CHECKING:
    from bot.core import BotCore

HORIZON_DAYS = 30  # rows are planned this far ahead
CATCH_UP_DAYS = 14  # a window reminder missed by less than this is still sent (late)
DEADLINE_LEAD_WORKDAYS = 1  # the deadline reminder goes out this many working days before
_LEAD_MARGIN_DAYS = 62  # lead_days ≤ 30 working days, holidays included
_LABEL_MAX = 80  # keys stay well inside String(255)


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
    insert = sqlite_insert if s.bind.dialect.name == "sqlite" else pg_insert
    for i in range(0, len(new), 200):
        await s.execute(insert(Reminder).values(new[i:i + 200]).on_conflict_do_nothing(index_elements=["key"]))
    return len(new)
