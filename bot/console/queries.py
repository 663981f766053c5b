"""What the console shows, read in one short session per page.

The 总览 reads the 校历 and the specs' windows through ``workflow.agenda`` (the
same reader as 本周/日程 and the reminders), and progress through
``Engine.progress`` (the same as 进度 in chat), so console and chat agree.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import directory
from bot.console.auth import Viewer
from bot.console.board import term_chart
from models import AuditEntry, Run, StoredFile, Task
from workflow.agenda import week_windows, windows_in
from workflow.reading import CLOSED

if TYPE_CHECKING:
    from bot.core import BotCore

WEEKDAYS = "一二三四五六日"
OVERDUE_SHOWN = 100  # rows of the 逾期 table; the 催办 button covers them all
RUN_WIDE = {"start", "remind", "skip", "close", "done", "rejected", "cancelled", "withdraw"}


def term_of(cal, today: date):
    """The semester today falls in, else the next one, else the last one."""
    sem = cal.semester_of(today)
    if sem is not None:
        return sem
    later = [x for x in cal.semesters if x.start > today]
    return min(later, key=lambda x: x.start) if later else max(cal.semesters, key=lambda x: x.start)


def cn_day(cal, d: date | datetime | None) -> str:
    """12月10日（周四）第15周 — the week only inside the teaching weeks."""
    if d is None:
        return ""
    day = d.date() if isinstance(d, datetime) else d
    week = cal.teaching_week(day)
    tail = f"第{week[1]}周" if week else ""
    return f"{day.month}月{day.day}日（周{WEEKDAYS[day.weekday()]}）{tail}"


def cn_time(hours, utc: datetime | None) -> str:
    """A stored (naive UTC) time as people read it: 12月10日（周四）第15周 14:30, Beijing time."""
    if utc is None:
        return ""
    local = hours.local(utc)
    return f"{cn_day(hours.cal, local)} {local:%H:%M}"


def cn_local(cal, text: str) -> str:
    """A local time as a form stores it ("2026-12-10 14:30" or "2026-12-10T14:30") → 12月10日（周四）第15周 14:30."""
    try:
        local = datetime.fromisoformat(text.strip())
    except (AttributeError, ValueError):
        return text or ""
    return f"{cn_day(cal, local)} {local:%H:%M}"


async def overview(s: AsyncSession, core: "BotCore", viewer: Viewer) -> dict:
    hours = core.reminders.hours
    cal = hours.cal
    now = core.clock()
    today = hours.today(now)
    sem = term_of(cal, today)
    items = windows_in(core.specs, cal, sem.start, sem.end)
    weeks = [{"no": n, "monday": sem.week_start(n), "items": [],
              "current": sem.week_start(n) <= today <= sem.week_end(n)} for n in range(1, sem.weeks + 1)]
    for w in items:
        index = min(max((w.start - sem.start).days // 7, 0), sem.weeks - 1)
        weeks[index]["items"].append(w)
    open_now = [w for w in items if w.start <= today <= w.end]
    since = {w: hours.utc(datetime.combine(w.start, time())) for w in open_now}
    started = (await s.execute(select(Run).where(Run.code.in_({w.code for w in open_now}),
                                                  Run.created_at >= min(since.values(), default=now),
                                                  Run.status != "cancelled").order_by(Run.id.desc()))).scalars().all()
    due = []
    for w in open_now:  # the window's run: one of its code started since it opened (as run_for_window)
        run = next((r for r in started if r.code == w.code and r.created_at >= since[w]), None)
        startable = viewer.is_office and core.engine.may_start(viewer.person, w.spec) and not w.spec.start_form
        due.append({"window": w, "run": run, "startable": startable})
    next_monday = today - timedelta(days=today.weekday()) + timedelta(days=7)
    next_week = [w for w in week_windows(core.specs, cal, next_monday) if w.start >= next_monday]
    runs = await open_runs(s, core, viewer)
    overdue = await overdue_tasks(s, core, viewer, now)
    return dict(term=sem, today=today, weeks=weeks, due=due, next_week=next_week, next_monday=next_monday,
                runs=runs, overdue=overdue, overdue_shown=OVERDUE_SHOWN, chart=state_chart(runs),
                term_chart=await term_chart(s, core, viewer, sem))


async def open_runs(s: AsyncSession, core: "BotCore", viewer: Viewer) -> list[dict]:
    """Each open run with its current step's done/total per 系部, read in one query for all runs.

    A group (a 系部, or a person for individual duties) is done as in ``Engine.progress``: one of its
    tasks closed (done or skipped)."""
    runs = (await s.execute(select(Run).where(Run.status == "open", Run.code.in_(list(core.specs)))
                            .order_by(Run.id))).scalars().all()
    tq = (select(Task.run_id, Task.step_index, Task.group, Task.department, Task.status, Task.due_at)
          .join(Run, Run.id == Task.run_id)
          .where(Run.status == "open", Task.step_index == Run.step_index))
    if viewer.department is not None:
        tq = tq.where(Task.department == viewer.department)
    now = core.clock()
    groups: dict[int, dict[str, dict]] = defaultdict(dict)
    for run_id, _, group, dept, status, due_at in (await s.execute(tq)).all():
        g = groups[run_id].setdefault(group, {"department": dept or group, "state": "open"})
        if status in CLOSED:
            g["state"] = "done"
        elif status == "open" and due_at is not None and due_at < now and g["state"] == "open":
            g["state"] = "overdue"
    out = []
    for run in runs:
        mine = list(groups.get(run.id, {}).values())
        if viewer.department is not None and not mine:
            continue
        per_dept: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for g in mine:
            per_dept[g["department"]][1] += 1
            per_dept[g["department"]][0] += g["state"] == "done"
        out.append(dict(run=run, step=core.engine.current_step(run), total=len(mine),
                        done=sum(1 for g in mine if g["state"] == "done"),
                        overdue=sum(1 for g in mine if g["state"] == "overdue"),
                        departments=[dict(name=k, done=v[0], total=v[1]) for k, v in sorted(per_dept.items())]))
    return out


async def overdue_tasks(s: AsyncSession, core: "BotCore", viewer: Viewer, now: datetime) -> list[dict]:
    """Open tasks past due on open runs, oldest first: plain columns, no ORM objects (a term has hundreds)."""
    q = (select(Task.id, Task.step_index, Task.department, Task.assignee, Task.due_at, Run.id, Run.code,
                Run.flow_id, Run.title)
         .join(Run, Run.id == Task.run_id)
         .where(Task.status == "open", Task.due_at < now, Run.status == "open", Run.code.in_(list(core.specs)))
         .order_by(Task.due_at, Task.id))
    if viewer.department is not None:
        q = q.where(Task.department == viewer.department)
    rows = (await s.execute(q)).all()
    who = await directory.names(s, {r[3] for r in rows})
    out = []
    for task_id, step_index, dept, assignee, due_at, run_id, code, flow_id, title in rows:
        steps = core.specs[code].flow(flow_id).steps
        out.append(dict(task_id=task_id, department=dept, due_at=due_at, run_id=run_id, run_title=title,
                        step=steps[step_index].label if step_index < len(steps) else "",
                        name=who.get(assignee, assignee)))
    return out


def state_chart(runs: list[dict]) -> list[dict]:
    """Bars per 系部 across the open runs: done and total groups (drawn as SVG by the template)."""
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in runs:
        for d in r["departments"]:
            totals[d["name"]][0] += d["done"]
            totals[d["name"]][1] += d["total"]
    return [dict(name=k, done=v[0], total=v[1]) for k, v in sorted(totals.items())]


async def run_detail(s: AsyncSession, core: "BotCore", viewer: Viewer, run: Run) -> dict:
    """Every step with each task (per 系部 and person), the files with their versions, disputes, audit."""
    engine = core.engine
    tq = select(Task).where(Task.run_id == run.id).order_by(Task.step_index, Task.department, Task.id)
    fq = select(StoredFile).where(StoredFile.run_id == run.id).order_by(StoredFile.step_id, StoredFile.id.desc())
    if viewer.department is not None:
        tq = tq.where(Task.department == viewer.department)
        fq = fq.where(StoredFile.department == viewer.department)
    tasks = (await s.execute(tq)).scalars().all()
    files = (await s.execute(fq)).scalars().all()
    audit = (await s.execute(select(AuditEntry).where(AuditEntry.run_id == run.id)
                             .order_by(AuditEntry.at, AuditEntry.id))).scalars().all()
    if viewer.department is not None:  # their 系部's tasks, and what happened to the run as a whole
        mine = {t.id for t in tasks}
        audit = [a for a in audit if a.task_id in mine or (a.task_id is None and a.action in RUN_WIDE)]
    who = await directory.names(s, [t.assignee for t in tasks] + [t.acted_by for t in tasks] +
                                [f.userid for f in files] + [a.actor for a in audit] + [run.started_by])
    now = core.clock()
    steps = engine.steps(run)
    by_step = defaultdict(list)
    for t in tasks:
        by_step[t.step_index].append(dict(task=t, name=who.get(t.assignee, t.assignee),
                                          by=who.get(t.acted_by, t.acted_by),
                                          overdue=t.status == "open" and t.due_at is not None and t.due_at < now))
    step_ids = {st.id: st for st in steps}
    versions: dict[tuple[str, str], list] = defaultdict(list)
    for f in files:
        versions[(f.step_id, f.department or f.userid)].append(f)
    file_groups = [dict(step=step_ids.get(k[0]), owner=k[1], files=v,
                        uploader={f.id: who.get(f.userid, f.userid) for f in v})
                   for k, v in versions.items()]
    disputes = [x for x in (item for rows in by_step.values() for item in rows)
                if x["task"].result.get("action") in ("dispute", "reject") and x["task"].result.get("reason")]
    return dict(run=run, spec=engine.spec(run), steps=[dict(index=i, step=st,
                                                           state=step_state(run, i) if st.needed(run.data)
                                                           else "not_needed",
                                                           tasks=by_step.get(i, []))
                                                      for i, st in enumerate(steps)],
                steps_with_tasks=len(by_step), file_groups=file_groups, disputes=disputes, audit=audit, who=who,
                starter=who.get(run.started_by, run.started_by))


def step_state(run: Run, index: int) -> str:
    """As ``Engine.progress`` words it: done, active, pending, or the run's end (rejected, cancelled)."""
    if index < run.step_index or (index == run.step_index and run.status == "done"):
        return "done"
    if index == run.step_index:
        return "active" if run.status == "open" else run.status
    return "pending"


async def files_for_zip(s: AsyncSession, viewer: Viewer, run: Run, step_id: str = "") -> list[StoredFile]:
    q = select(StoredFile).where(StoredFile.run_id == run.id).order_by(StoredFile.id)
    if step_id:
        q = q.where(StoredFile.step_id == step_id)
    if viewer.department is not None:
        q = q.where(StoredFile.department == viewer.department)
    return list((await s.execute(q)).scalars().all())
