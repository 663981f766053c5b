"""Confirm steps over a list 教务处 supplies (1.6 工作量, 1.7 补考名单).

The list is either in the run's data when it starts (``run.data[data_key]``,
e.g. from a script or the scheduler) or 教务处 uploads it in the step itself:
while it is missing, the step holds one more task — an upload for the run's
owner, in the group 教务处, so the join waits for it and 进度 shows it. Until
it arrives the others' cards say they will get their part; when it arrives,
each open task's card is sent again showing that person's or 系部's part.
教务处 then hears how many people those cards reached, as the outbox queued them.
有异议 / 有误 (``dispute``, with a reason) reaches 教务处 at once; a summary
follows when the step is over.
"""
from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.data import StepHook
from bot.card_copies import subject_of_dispute
from handlers.data.office import office_targets, parts, step_tasks, tell_office
from handlers.data.tables import check_table, read_records
from handlers.offload import off_loop
from handlers.problems import Problem
from handlers.sheets import Table
from workflow.disputes import open_dispute
from workflow.spec import Step
from models import OFFICE_DEPARTMENT, Person, Run, StoredFile, Task


class ListCheck(StepHook):
    data_key = ""  # where the list lives in run.data: {"rows": [...], "file_id": ..., ...}
    columns: tuple[str, ...] = ()
    number_columns: tuple[str, ...] = ()
    received_template = ""  # to 教务处 when the list is in
    dispute_template = ""  # to 教务处 for each 有异议 / 有误
    dispute_card = ""  # the same as a card with 已更正 / 维持, when the step's disputes are a thread
    summary_template = ""  # to 教务处 when the step is over

    # ----- what a subclass decides ------------------------------------------------
    async def prepare(self, engine, s: AsyncSession, run: Run, step: Step, rows: list[dict]) -> dict:
        """What to keep about the list (its rows and anything derived); told to 教务处."""
        return {"rows": rows}

    async def part(self, engine, s: AsyncSession, run: Run, task: Task, data: dict) -> dict:
        """Card values for one task: the rows that person or 系部 checks."""
        return {}

    async def announce(self, engine, s: AsyncSession, run: Run, step: Step, data: dict) -> None:
        """Anything to send once the list is in, before the cards go out again."""
        return None

    # ----- the hook -----------------------------------------------------------------
    def listed(self, run: Run) -> dict | None:
        data = run.data.get(self.data_key)
        return data if isinstance(data, dict) and "rows" in data else None

    async def on_activate(self, engine, s, run, step, tasks) -> None:
        given = self.listed(run)
        if given is not None:
            if "prepared" not in given:  # 教务处 hears of it once the engine has sent the cards (on_sent)
                await self._keep(engine, s, run, step, given["rows"], given.get("file_id"))
            return
        first = tasks[0]
        upload = Task(run_id=run.id, step_index=first.step_index, step_id=step.id, kind="upload",
                      group=OFFICE_DEPARTMENT, department=OFFICE_DEPARTMENT,
                      assignee=run.owner_userid or run.started_by, due_at=first.due_at,
                      created_at=engine.core.clock())
        s.add(upload)
        await s.flush()
        await engine.send_task_card(s, run, step, upload)

    def check_upload(self, step: Step, table: Table | None) -> list[Problem]:
        return check_table(table, self.columns, numbers=self.number_columns, allow_empty=self.allow_empty_sheet)

    def sheet_columns(self, step: Step) -> tuple[list[str], list[str]]:
        """教务处's list: every column is required."""
        return list(self.columns), []

    async def on_task_done(self, engine, s, run, step, task) -> None:
        if task.kind == "upload":
            file_id = task.result.get("file_id")
            stored = await s.get(StoredFile, file_id) if file_id else None
            if stored is None:  # closed without a file (not from its card): the list is still missing
                return
            rows = await off_loop(read_records, stored.path, self.columns)  # off the loop; the file was checked
            kept = await self._keep(engine, s, run, step, rows, stored.id)
            reached: list[str] = []
            for t in await step_tasks(s, run, task.step_index):
                if t.status == "open" and t.kind == step.kind:
                    reached += await engine.send_task_card(s, run, step, t)
            await self._received(engine, s, run, step, kept, reached)
        elif task.result.get("action") == "dispute":
            person = await s.get(Person, task.acted_by)
            values = dict(step=step, task=task, person=person, reason=task.result.get("reason", ""),
                          **await self.part(engine, s, run, task, self.listed(run) or {"rows": []}))
            if task.status == "disputed":  # a thread: 教务处 answers on a card, the step waits
                dispute = await open_dispute(engine, s, run, task)
                message = engine.core.renderer.card_message(self.dispute_card, run=run, dispute=dispute, **values)
                message.subject = subject_of_dispute(dispute.id)
                await engine.notifier.send(s, await office_targets(s, run), message)
            else:
                await tell_office(engine, s, run, self.dispute_template, **values)

    async def correct(self, engine, s: AsyncSession, run: Run, task: Task, text: str) -> dict:
        """教务处's corrected figure for the person's part (raises Invalid): what changes, and the list
        as corrected under "data" (kept by ``keep_correction`` once the decision holds)."""
        raise NotImplementedError

    def keep_correction(self, run: Run, change: dict) -> None:
        run.data = {**run.data, self.data_key: change["data"]}

    async def on_sent(self, engine, s, run, step, reached) -> None:
        """A list given when the run started: the cards just went out with each part."""
        given = self.listed(run)
        if given is not None and given.get("prepared") and not given.get("told"):
            await self._received(engine, s, run, step, given, reached)

    async def on_complete(self, engine, s, run, step) -> None:
        index = engine.steps(run).index(step)
        found = await parts(s, run, index)
        people = {p.userid: p for p in [await s.get(Person, u) for x in found for u in x.people] if p}
        await tell_office(engine, s, run, self.summary_template, step=step, parts=found, people=people,
                          listed=self.listed(run) is not None)

    async def card_values(self, engine, s, run, step, task) -> dict:
        if task.kind == "upload":
            return {"columns": self.columns}
        data = self.listed(run)
        if data is None:
            return {"listed": False}
        return {"listed": True, **await self.part(engine, s, run, task, data)}

    async def _keep(self, engine, s, run, step, rows: list[dict], file_id: int | None) -> dict:
        kept = await self.prepare(engine, s, run, step, rows)
        run.data = {**run.data, self.data_key: {**kept, "file_id": file_id, "prepared": True}}
        return kept

    async def _received(self, engine, s, run, step, kept: dict, reached: list[str]) -> None:
        """教务处 hears the list is in and whom the cards reached (``reached``: what the outbox queued)."""
        run.data = {**run.data, self.data_key: {**self.listed(run), "told": True}}
        shown = {k: v for k, v in kept.items() if k not in ("file_id", "prepared", "told")}
        await tell_office(engine, s, run, self.received_template, step=step, reached=list(dict.fromkeys(reached)),
                          **shown)
        await self.announce(engine, s, run, step, kept)
