"""Confirm steps over a list 教务处 supplies (1.6 工作量, 1.7 补考名单).

The list is either in the run's data when it starts (``run.data[data_key]``,
e.g. from a script or the scheduler) or 教务处 uploads it in the step itself:
while it is missing, the step holds one more task — an upload for the run's
owner, in the group 教务处, so the join waits for it and 进度 shows it. Until
it arrives the others' cards say they will get their part; when it arrives,
each open task's card is sent again showing that person's or 系部's part.
有异议 / 有误 (``dispute``, with a reason) reaches 教务处 at once; a summary
follows when the step is over.
"""
from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.data import StepHook
from handlers.data.office import parts, step_tasks, tell_office
from handlers.data.tables import check_table, read_records
from handlers.offload import off_loop
from handlers.problems import Problem
from handlers.sheets import Table
from workflow.spec import Step
from models import OFFICE_DEPARTMENT, Person, Run, StoredFile, Task


class ListCheck(StepHook):
    data_key = ""  # where the list lives in run.data: {"rows": [...], "file_id": ..., ...}
    columns: tuple[str, ...] = ()
    number_columns: tuple[str, ...] = ()
    received_template = ""  # to 教务处 when the list is in
    dispute_template = ""  # to 教务处 for each 有异议 / 有误
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
            if "prepared" not in given:
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
            await self._keep(engine, s, run, step, rows, stored.id)
            for t in await step_tasks(s, run, task.step_index):
                if t.status == "open" and t.kind == step.kind:
                    await engine.send_task_card(s, run, step, t)
        elif task.result.get("action") == "dispute":
            person = await s.get(Person, task.acted_by)
            await tell_office(engine, s, run, self.dispute_template, step=step, task=task, person=person,
                              reason=task.result.get("reason", ""),
                              **await self.part(engine, s, run, task, self.listed(run) or {"rows": []}))

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

    async def _keep(self, engine, s, run, step, rows: list[dict], file_id: int | None) -> None:
        kept = await self.prepare(engine, s, run, step, rows)
        run.data = {**run.data, self.data_key: {**kept, "file_id": file_id, "prepared": True}}
        await tell_office(engine, s, run, self.received_template, step=step, **kept)
        await self.announce(engine, s, run, step, kept)
