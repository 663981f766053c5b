"""Chat around workflow runs: start, decide on cards, 待办, 进度, 催办,
skip and reassign (撤回 and 重新提交 are in handlers/requests.py). The steps themselves come from the spec files."""
from __future__ import annotations

from sqlalchemy import select

from bot import directory
from bot.buttons import TaskAction
from bot.card_copies import subject_of_task
from bot.context import Context
from bot.router import Router
from handlers.forms import FORMS, start_form
from handlers.intent import asks, named_workflow
from handlers.notices import latest_notice_progress, open_notices, remind_latest_notice, send_notice_card
from handlers.progress_files import files_message
from workflow.disputes import open_disputes
from workflow.engine import Decision, EngineError
from workflow.registry import find_spec
from models import CardCopy, Person, Run, Task

router = Router("workflows")

OUTCOME_TEMPLATES = {
    "stale": "errors/already_done.j2",
    "forbidden": "errors/not_yours.j2",
    "own_request": "errors/own_request.j2",
    "missing": "errors/already_done.j2",
    "bad_action": "errors/already_done.j2",
}
NEEDS_REASON = {"reject", "dispute"}
START_WORDS = {"是", "是的", "启动", "发起", "确认", "确定", "好", "好的", "1"}


# ----- starting -------------------------------------------------------------------
async def begin_workflow(ctx: Context, words: str, flow_hint: str = "", sentence: str = "") -> bool:
    """Start the workflow ``words`` names; ``sentence``, the whole message, may prefill its start form."""
    spec = find_spec(ctx.core.specs, words)
    if spec is None:
        return False
    if not ctx.core.engine.may_start(ctx.person, spec):
        await ctx.reply("errors/cannot_start.j2", spec=spec)
        return True
    if spec.start_form:
        await start_form(ctx, spec.start_form, FORMS[spec.start_form].initial(words), sentence)
        return True
    flows = spec.all_flows()
    if len(flows) > 1:
        chosen = next((f for f in flows if flow_hint and (flow_hint == f.name or flow_hint == f.id)), None)
        if chosen is None:
            await ctx.begin("pick_flow", "ask", {"code": spec.code})
            await ctx.reply("run/pick_flow.j2", spec=spec, flows=flows)
            return True
        flow_id = chosen.id
    else:
        flow_id = None
    await _start(ctx, spec.code, flow_id)
    return True


async def _start(ctx: Context, code: str, flow_id: str | None) -> None:
    spec = ctx.core.specs[code]
    try:
        run = await ctx.core.engine.start_run(ctx.session, spec, ctx.person, flow_id=flow_id)
    except EngineError as exc:
        await ctx.reply(exc.template, **exc.values)
        return
    await ctx.reply("run/started.j2", run=run, spec=spec, steps=ctx.core.engine.steps(run))


@router.command("start", "启动", "发起", takes_args=True)
async def cmd_start(ctx: Context) -> None:
    words, _, hint = ctx.args.partition(" ")
    if not words:
        await ctx.reply("run/start_usage.j2", specs=[s for s in ctx.core.specs.values()
                                                      if ctx.core.engine.may_start(ctx.person, s)])
        return
    if not await begin_workflow(ctx, words, hint.strip()):
        await ctx.reply("errors/unknown_workflow.j2", words=words)


@router.conversation("pick_flow")
async def on_pick_flow(ctx: Context) -> None:
    spec = ctx.core.specs[ctx.conversation.data["code"]]
    flows = spec.all_flows()
    t = ctx.text
    chosen = None
    if t.isdigit() and 1 <= int(t) <= len(flows):
        chosen = flows[int(t) - 1]
    else:
        chosen = next((f for f in flows if t in (f.name, f.id)), None)
    if chosen is None:
        await ctx.reply("run/pick_flow.j2", spec=spec, flows=flows, bad=t)
        return
    await ctx.end()
    await _start(ctx, spec.code, chosen.id)


@router.fallback
async def start_by_words(ctx: Context) -> bool:
    """调课 / 三大注册 / 1.1 typed alone starts that workflow for those allowed; so does a sentence naming
    one ("老师好，我下周三要去开会，想调一下课"), passing on what it says. A run that would reach every
    系部 at once is confirmed first; someone not allowed who asks is told who starts it."""
    if ctx.event.kind != "text" or not ctx.text:
        return False
    if " " not in ctx.text and find_spec(ctx.core.specs, ctx.text) is not None:
        return await begin_workflow(ctx, ctx.text)
    found = named_workflow(ctx.core.specs, ctx.text)
    if found is None:
        return False
    spec, word = found
    if not ctx.core.engine.may_start(ctx.person, spec):
        if not asks(ctx.text):
            return False
        await ctx.reply("errors/cannot_start.j2", spec=spec)
        return True
    if spec.start_form:
        return await begin_workflow(ctx, word, sentence=ctx.text)
    await ctx.begin("confirm_start", "ask", {"code": spec.code})
    await ctx.reply("run/confirm_start.j2", spec=spec)
    return True


@router.conversation("confirm_start")
async def on_confirm_start(ctx: Context) -> None:
    code = ctx.conversation.data["code"]
    await ctx.end()
    if ctx.text in START_WORDS:
        await begin_workflow(ctx, code)
        return
    await ctx.reply("run/not_started.j2", spec=ctx.core.specs[code])


@router.resume("confirm_start")
async def resume_confirm_start(ctx: Context) -> None:
    question = ctx.render.text("run/confirm_start.j2", spec=ctx.core.specs[ctx.conversation.data["code"]])
    await ctx.reply("continue.j2", question=question, what="操作")


@router.resume("pick_flow")
async def resume_pick_flow(ctx: Context) -> None:
    spec = ctx.core.specs[ctx.conversation.data["code"]]
    await ctx.reply("continue.j2", question=ctx.render.text("run/pick_flow.j2", spec=spec, flows=spec.all_flows()),
                    what="操作")


@router.resume("reason")
async def resume_reason(ctx: Context) -> None:
    question = ctx.render.text("task/ask_reason.j2", action=ctx.conversation.data["action"], run=None)
    await ctx.reply("continue.j2", question=question, what="操作")


# ----- decisions on cards -------------------------------------------------------------
@router.button(TaskAction, malformed="errors/already_done.j2")
async def on_task_button(ctx: Context, key: TaskAction) -> None:
    task_id, action = key.task_id, key.action
    engine = ctx.core.engine
    if action in NEEDS_REASON:
        decision = await engine.check(ctx.session, task_id, ctx.person, action)
        if decision.outcome != "ok":
            await _report(ctx, decision)
            return
        label = _label(ctx, decision, action)
        await ctx.begin("reason", "ask", {"task_id": task_id, "action": action, "label": label,
                                          "reply_ref": ctx.event.reply_ref})
        await ctx.reply("task/ask_reason.j2", action=action, run=decision.run, label=label)
        return
    decision = await engine.act(ctx.session, task_id, ctx.person, action)
    await _after_decision(ctx, decision, action, ctx.event.reply_ref)


@router.conversation("reason")
async def on_reason(ctx: Context) -> None:
    data = ctx.conversation.data
    reason = ctx.text
    if ctx.event.kind != "text" or len(reason) < 2:
        await ctx.reply("task/ask_reason.j2", action=data["action"], run=None, again=True,
                        label=data.get("label", ""))
        return
    await ctx.end()
    decision = await ctx.core.engine.act(ctx.session, data["task_id"], ctx.person, data["action"],
                                         {"reason": reason})
    # Conversations begun before the neutral reference kept WeCom's code or devchat's card id.
    reply_ref = data.get("reply_ref") or data.get("response_code") or data.get("card_task_id") or ""
    await _after_decision(ctx, decision, data["action"], reply_ref)


async def _after_decision(ctx: Context, decision: Decision, action: str, reply_ref: str) -> None:
    if decision.outcome != "ok":
        await _report(ctx, decision)
        return
    label = _label(ctx, decision, action)
    if reply_ref and not await _has_copies(ctx, decision.task):  # a card from before copies were kept
        await ctx.send_to([ctx.userid], ctx.core.engine.card_update(reply_ref, action, label))
    await ctx.reply("task/acted.j2", action=action, run=decision.run, task=decision.task, label=label)


def _label(ctx: Context, decision: Decision, action: str) -> str:
    """What the step calls this decision where the usual word does not fit (无法代课), else ''."""
    step = ctx.core.engine.steps(decision.run)[decision.task.step_index]
    return step.labels.get(action, "")


async def _has_copies(ctx: Context, task: Task) -> bool:
    """Every kept copy of the card, the tapped one too, was just updated to the final state."""
    found = await ctx.session.execute(select(CardCopy.id).where(CardCopy.subject == subject_of_task(task.id),
                                                                CardCopy.userid == ctx.userid).limit(1))
    return found.first() is not None


async def _report(ctx: Context, decision: Decision) -> None:
    await ctx.reply(OUTCOME_TEMPLATES[decision.outcome], run=decision.run)


# ----- 待办 ------------------------------------------------------------------------------
@router.command("todo", "待办", "我的待办", everywhere=True)
async def cmd_todo(ctx: Context) -> None:
    engine = ctx.core.engine
    pairs = await engine.open_tasks(ctx.session, ctx.userid)
    notices = await open_notices(ctx.session, ctx.userid)
    await ctx.reply("todo.j2", count=len(pairs) + len(notices))
    for task, run in pairs[:10]:
        await engine.send_task_card(ctx.session, run, engine.steps(run)[task.step_index], task)
    for task, run in notices[:10]:
        await send_notice_card(ctx, run, task, [ctx.userid])


# ----- 进度 / 催办 / 撤回 / 跳过 / 转派 ------------------------------------------------------
async def _runs_for(ctx: Context, words: str) -> list[Run]:
    q = select(Run).order_by(Run.id.desc())
    if words:
        spec = find_spec(ctx.core.specs, words)
        if spec is not None:
            q = q.where(Run.code == spec.code)
        else:
            q = q.where(Run.record_no == words)
    else:
        q = q.where(Run.code != "notice")
    if not ctx.person.has_role("教务处", "教务处分管领导"):
        q = q.where(Run.started_by == ctx.userid)
    runs = (await ctx.session.execute(q.limit(20))).scalars().all()
    open_runs = [r for r in runs if r.status == "open"]
    return open_runs or runs[:1]


@router.command("progress", "进度", takes_args=True, everywhere=True)
async def cmd_progress(ctx: Context) -> None:
    if not ctx.args and ctx.person.has_role("教务处"):
        if await latest_notice_progress(ctx):
            return
    runs = [r for r in await _runs_for(ctx, ctx.args) if r.code != "notice"]
    if not runs:
        await ctx.reply("run/none.j2", words=ctx.args)
        return
    engine = ctx.core.engine
    for run in runs[:5]:
        waiting = await open_disputes(ctx.session, run)
        who = await directory.names(ctx.session, [d.userid for d in waiting])
        await ctx.reply("run/progress.j2", run=run, spec=engine.spec(run),
                        steps=await engine.progress(ctx.session, run),
                        disputes=[(who.get(d.userid, d.userid), d.reason) for d in waiting])
        files = await files_message(ctx, run)  # every upload one tap away
        if files is not None:
            await ctx.send_to([ctx.userid], files)


@router.command("remind", "催办", takes_args=True, roles=("教务处",))
async def cmd_remind(ctx: Context) -> None:
    if not ctx.args:
        if await remind_latest_notice(ctx):
            return
    runs = [r for r in await _runs_for(ctx, ctx.args) if r.status == "open" and r.code != "notice"]
    if not runs:
        await ctx.reply("run/none.j2", words=ctx.args)
        return
    for run in runs:
        reached = await ctx.core.engine.remind(ctx.session, run, ctx.person)
        who = await directory.names(ctx.session, reached)
        await ctx.reply("run/reminded.j2", run=run, names=[who.get(u, u) for u in reached])


@router.command("skip", "跳过", takes_args=True, roles=("教务处",))
async def cmd_skip(ctx: Context) -> None:
    """Only the run's owner, and never an approval (see workflow/authority.py)."""
    words, _, reason = ctx.args.partition(" ")
    if not words or not reason.strip():
        await ctx.reply("run/skip_usage.j2")
        return
    runs = [r for r in await _runs_for(ctx, words) if r.status == "open"]
    if not runs:
        await ctx.reply("run/none.j2", words=words)
        return
    run = runs[0]
    try:
        step = await ctx.core.engine.skip_step(ctx.session, run, ctx.person, reason.strip())
    except EngineError as exc:
        await ctx.reply(exc.template, **exc.values)
        return
    await ctx.reply("run/skipped.j2", run=run, step=step, reason=reason.strip())


@router.command("reassign", "转派", takes_args=True, roles=("教务处",))
async def cmd_reassign(ctx: Context) -> None:
    """Only the run's owner, only to a holder of the step's role for the same party (workflow/authority.py)."""
    parts = ctx.args.split(maxsplit=2)
    if len(parts) < 3 or not parts[0].lstrip("#").isdigit():
        await ctx.reply("run/reassign_usage.j2")
        return
    task = await ctx.session.get(Task, int(parts[0].lstrip("#")))
    new = await directory.find_person(ctx.session, parts[1])
    run = await ctx.session.get(Run, task.run_id) if task is not None else None
    if task is None or run is None or run.code not in ctx.core.specs:
        await ctx.reply("errors/already_done.j2", run=None)
        return
    if new is None:
        await ctx.reply("errors/person_unknown.j2", name=parts[1])
        return
    step = ctx.core.engine.steps(run)[task.step_index]
    old = await ctx.session.get(Person, task.assignee)
    try:
        ok = await ctx.core.engine.reassign(ctx.session, task, new, ctx.person, parts[2])
    except EngineError as exc:
        await ctx.reply(exc.template, **exc.values)
        return
    await ctx.reply("run/reassigned.j2" if ok else "errors/already_done.j2", run=run, step=step, old=old, new=new,
                    reason=parts[2])


# ----- 帮助 ------------------------------------------------------------------------------
@router.command("help", "帮助", "help", "?", "？", everywhere=True)
async def cmd_help(ctx: Context) -> None:
    startable = [s for s in ctx.core.specs.values() if ctx.core.engine.may_start(ctx.person, s)]
    await ctx.reply("help.j2", commands=ctx.core.dispatcher.allowed_commands(ctx), startable=startable,
                    forms=FORMS)
