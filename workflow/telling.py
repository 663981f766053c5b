"""What the starter and the owner hear besides the cards: a 驳回 (the starter always, and whoever the
step's ``tell_on_reject`` names, e.g. the 系部主任 when a substitute answers 无法代课), each approval,
and a step nobody can do. Counts and names come from what was queued."""
from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from models import Person, Run
from workflow.assign import resolve_people
from workflow.people import names, people_with_role
from workflow.spec import Step

if TYPE_CHECKING:
    from workflow.engine import Engine


async def tell_rejected(engine: "Engine", s: AsyncSession, run: Run, step: Step, actor: Person, reason: str) -> None:
    """Others first, then the starter, told who else knows: a request filed through a form gets a card
    with 重新提交, others a message."""
    values = dict(run=run, spec=engine.spec(run), step=step, actor=actor, reason=reason)
    others = [u for u in await resolve_people(s, run, step.tell_on_reject) if u not in (run.started_by, actor.userid)]
    told = await engine.notifier.text(s, others, step.templates.get("rejected_others", "run/rejected_others.j2"),
                                      dict(values, starter=await s.get(Person, run.started_by))) if others else []
    who = await names(s, told)
    values["also_told"] = [who.get(u, u) for u in told]
    if engine.spec(run).start_form:
        await engine.notifier.card(s, [run.started_by], "run/rejected_starter.yaml.j2", values, run=run)
    else:
        await engine.notifier.text(s, [run.started_by], "run/rejected_starter.j2", values)


async def step_closed_for_starter(engine: "Engine", s: AsyncSession, run: Run, index: int) -> None:
    """The starter hears each approval and the step the spec marks as theirs (``templates.starter``)."""
    steps = engine.steps(run)
    step = steps[index]
    template = step.templates.get("starter") or ("run/step_done_starter.j2" if step.kind == "approve" else "")
    if not template or not engine.spec(run).notify_starter:
        return
    values = {**await engine._card_values(s, run, step, None),
              "next_step": steps[index + 1] if index + 1 < len(steps) else None}
    if template.endswith(".yaml.j2"):
        await engine.notifier.card(s, [run.started_by], template, values, run=run)
    else:
        await engine.notifier.text(s, [run.started_by], template, values)


async def tell_owner(engine: "Engine", s: AsyncSession, run: Run, template: str, **values) -> None:
    targets = [run.owner_userid] if run.owner_userid else [p.userid for p in await people_with_role(s, "教务处")]
    await engine.notifier.text(s, targets, template, dict(run=run, spec=engine.spec(run), **values))
