"""本周 and 日程 in chat, and the one-tap 启动 on a window reminder.

Both commands read the 校历 through the reminder service, so chat and reminders
agree on dates; "mine" means the workflows a person owns, starts or works on in their own 系部.
"""
from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlalchemy import update

from bot import directory
from bot.buttons import WindowStart
from bot.context import Context
from bot.outbound import OutboundMessage
from bot.reminders.queries import run_for_window
from bot.router import Router
from handlers.workflows import begin_workflow
from models import GENERAL_DEPARTMENT, OFFICE_DEPARTMENT, Person, Reminder
from workflow.agenda import flow_for_label, week_windows, windows_in
from workflow.spec import Assignee, Step, WorkflowSpec

router = Router("schedule")
UPCOMING_DAYS = 30  # 日程 looks this far ahead
PARTY_ROLES = {"教务处": "教务处", "分管领导": "教务处分管领导"}


def my_steps(spec: WorkflowSpec, person: Person) -> list[Step]:
    """The steps this person does in their own 系部 (a notice they merely receive is not one): a 系部 step
    is not a 教务处 person's, nor 通识教育部's step another 系部's, nor the starter's 系部主任's a calendar's."""
    found = []
    for flow in spec.all_flows():
        for step in flow.steps:
            if step.kind != "notice" and any(_does(a, person) for a in step.assignees):
                found.append(step)
    return found


def _does(a: Assignee, person: Person) -> bool:
    if a.party in PARTY_ROLES:
        return person.has_role(PARTY_ROLES[a.party])
    if a.party == "发起人":
        return False
    if a.party == GENERAL_DEPARTMENT:
        return person.department == GENERAL_DEPARTMENT and person.has_role(a.role or "教学秘书")
    return a.scope == "all" and person.department != OFFICE_DEPARTMENT and person.has_role(a.role or "教学秘书")


def takes_part(spec: WorkflowSpec, person: Person) -> bool:
    return person.has_role(*spec.starters, spec.owner) or bool(my_steps(spec, person))


def my_parts(specs, person: Person) -> dict[str, str]:
    """For people outside the owning office: what they do in each workflow, by its first step's label."""
    if person.department == OFFICE_DEPARTMENT:
        return {}
    return {code: steps[0].label for code, spec in specs.items() if (steps := my_steps(spec, person))}


def _mine(person: Person):
    return lambda spec: takes_part(spec, person)


@router.command("week", "本周")
async def cmd_week(ctx: Context) -> None:
    """My tasks due this week or overdue, and the windows of my workflows that open or close this week."""
    hours = ctx.core.reminders.hours
    now = ctx.core.clock()
    monday, sunday = hours.week_of(now)
    week_end = hours.utc(datetime.combine(sunday + timedelta(days=1), time()))
    pairs = await ctx.core.engine.open_tasks(ctx.session, ctx.userid)
    overdue, due, undated = [], [], 0
    for task, run in pairs:
        item = {"task": task, "run": run, "step": ctx.core.engine.steps(run)[task.step_index]}
        if task.due_at is None:
            undated += 1
        elif task.due_at < now:
            overdue.append(item)
        elif task.due_at < week_end:
            due.append(item)
    windows = week_windows(ctx.core.specs, hours.cal, monday, _mine(ctx.person))
    await ctx.reply("schedule/week.j2", monday=monday, sunday=sunday, overdue=overdue, due=due,
                    later=len(pairs) - len(overdue) - len(due) - undated, undated=undated, windows=windows,
                    parts=my_parts(ctx.core.specs, ctx.person))


@router.command("schedule", "日程")
async def cmd_schedule(ctx: Context) -> None:
    """Windows of my workflows starting in the next 30 days, and those open now that close by then."""
    hours = ctx.core.reminders.hours
    today = hours.today(ctx.core.clock())
    until = today + timedelta(days=UPCOMING_DAYS)
    items = windows_in(ctx.core.specs, hours.cal, today, until, _mine(ctx.person))
    upcoming = [w for w in items if w.start >= today]
    ongoing = [w for w in items if w.start < today and w.end <= until]
    await ctx.reply("schedule/upcoming.j2", today=today, until=until, upcoming=upcoming, ongoing=ongoing,
                    days=UPCOMING_DAYS, parts=my_parts(ctx.core.specs, ctx.person))


@router.button(WindowStart, malformed="errors/stale.j2")
async def on_window_button(ctx: Context, key: WindowStart) -> None:
    """window:<reminder id>:start — start the window's run, once, for someone allowed to."""
    reminder = await ctx.session.get(Reminder, key.reminder_id)
    spec = ctx.core.specs.get(reminder.payload.get("code", "")) if reminder and reminder.kind == "window_open" else None
    if spec is None:
        await ctx.reply("errors/stale.j2")
        return
    if not ctx.core.engine.may_start(ctx.person, spec):
        await ctx.reply("errors/cannot_start.j2", spec=spec)
        return
    label = reminder.payload.get("label", "")
    hours = ctx.core.reminders.hours
    opens = datetime.fromisoformat(reminder.payload["opens"])
    run = await run_for_window(ctx.session, spec.code, hours.utc(opens))
    if run is not None:
        starter = await ctx.session.get(Person, run.started_by)
        await ctx.reply("schedule/already_started.j2", spec=spec, run=run, starter=starter)
        return
    # Compare-and-set on the row: of two taps (two people, or a double tap) only one starts.
    res = await ctx.session.execute(
        update(Reminder).where(Reminder.id == reminder.id, Reminder.note == "")
        .values(note=f"tapped:{ctx.userid}").execution_options(synchronize_session=False))
    if res.rowcount != 1:
        await ctx.session.refresh(reminder)
        who = reminder.note.partition(":")[2]
        if who != ctx.userid:  # the same person may tap again, e.g. after 取消 while choosing a branch
            names = await directory.names(ctx.session, [who])
            await ctx.reply("schedule/being_started.j2", spec=spec, tapper=names.get(who, who))
            return
    if ctx.event.reply_ref:
        grey = OutboundMessage(kind="card_update", reply_ref=ctx.event.reply_ref,
                               replace_name=ctx.render.text("schedule/started_button.j2"))
        await ctx.send_to([ctx.userid], grey)
    flow = flow_for_label(spec, label)
    hint = next((f.name for f in spec.all_flows() if f.id == flow), "") if flow else ""
    await begin_workflow(ctx, spec.code, hint)
