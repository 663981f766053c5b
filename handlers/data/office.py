"""What 教务处 gets from a data step: messages to the run's owner, with a signed
link to a file the bot produced, and the files the 系部 uploaded in a step."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import directory
from bot.links import download_url
from handlers.data.tables import read_records, write_xlsx
from handlers.offload import off_loop
from workflow.spec import Step
from models import OFFICE_DEPARTMENT, Run, StoredFile, Task

if TYPE_CHECKING:
    from bot.engine import BotEngine as Engine

DEPARTMENT_COLUMN = "系部"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_UNSAFE = re.compile(r'[\\/:*?"<>|\s]+')


async def office_targets(s: AsyncSession, run: Run) -> list[str]:
    """The run's owner in 教务处, or all of 教务处 when nobody there owns it."""
    if run.owner_userid:
        return [run.owner_userid]
    return [p.userid for p in await directory.people_with_role(s, "教务处")]


async def tell_office(engine: "Engine", s: AsyncSession, run: Run, template: str, *,
                      file: StoredFile | None = None, **values) -> None:
    """A message to 教务处. With ``file`` the template is a card (``.yaml.j2``): a title, one line
    and a button opening the file, each recipient's ``url`` signed for them (never a raw URL in text)."""
    targets = await office_targets(s, run)
    spec = engine.spec(run)
    if file is None:
        await engine.notifier.text(s, targets, template, dict(run=run, spec=spec, url="", **values))
        return
    for userid in targets:
        url = download_url(engine.core.settings, file.id, userid)
        await engine.notifier.card(s, [userid], template, dict(run=run, spec=spec, url=url, **values), run=run)


async def step_tasks(s: AsyncSession, run: Run, step_index: int) -> list[Task]:
    rows = await s.execute(select(Task).where(Task.run_id == run.id, Task.step_index == step_index)
                           .order_by(Task.id))
    return list(rows.scalars())


@dataclass
class Part:
    """One group's part of a step: who closed it and how, or that it is missing."""

    group: str
    department: str
    task: Task | None = None  # the task that closed it (done); None when skipped or still open
    people: list[str] = field(default_factory=list)  # who was asked


async def parts(s: AsyncSession, run: Run, step_index: int, *, office: bool = False) -> list[Part]:
    """Each group of a step (系部, or a person for individual duties), 教务处's own part left out."""
    out: dict[str, Part] = {}
    for t in await step_tasks(s, run, step_index):
        if t.group == OFFICE_DEPARTMENT and not office:
            continue
        p = out.setdefault(t.group, Part(t.group, t.department))
        p.people.append(t.assignee)
        if t.status == "done":
            p.task = t
    return sorted(out.values(), key=lambda p: (p.department, p.group))


async def latest_file(s: AsyncSession, task: Task) -> StoredFile | None:
    """The last file accepted for a task: a corrected one sent while the step still runs wins."""
    q = select(StoredFile).where(StoredFile.task_id == task.id).order_by(StoredFile.id.desc()).limit(1)
    return (await s.execute(q)).scalars().first()


async def save_file(engine: "Engine", s: AsyncSession, run: Run, step: Step, path: Path, filename: str,
                    department: str = OFFICE_DEPARTMENT) -> StoredFile:
    stored = StoredFile(run_id=run.id, step_id=step.id, userid="system", department=department,
                        filename=filename, path=str(path), size=path.stat().st_size, content_type=XLSX_TYPE,
                        created_at=engine.core.clock())
    s.add(stored)
    await s.flush()
    return stored


def produced_path(engine: "Engine", run: Run, name: str) -> Path:
    """Where the bot keeps a file it made for a run (under settings.data_dir)."""
    return Path(engine.core.settings.data_dir) / "files" / "produced" / str(run.id) / _UNSAFE.sub("_", name)


@dataclass
class Merged:
    file: StoredFile
    counts: list[tuple[str, int]]  # (系部, rows) for every part that sent a file
    missing: list[str]  # the 系部 whose part was skipped or never came
    rows: list[dict]  # every row, each with its 系部


async def merge_uploads(engine: "Engine", s: AsyncSession, run: Run, step: Step, step_index: int,
                        columns: list[str]) -> Merged:
    """The files each 系部 uploaded in a step, as one sheet with a 系部 column first.

    Reading and writing go to the file pool (the engine's transaction is open, but the loop is free)."""
    counts: list[tuple[str, int]] = []
    missing: list[str] = []
    rows: list[dict] = []
    for part in await parts(s, run, step_index):
        stored = await latest_file(s, part.task) if part.task else None
        if stored is None:
            missing.append(part.department)
            continue
        mine = await off_loop(read_records, stored.path, columns)
        rows += [{DEPARTMENT_COLUMN: part.department, **r} for r in mine]
        counts.append((part.department, len(mine)))
    header = [DEPARTMENT_COLUMN] + [c for c in columns if c != DEPARTMENT_COLUMN]
    name = _UNSAFE.sub("_", f"{run.record_no}-{step.label}.xlsx")
    path = produced_path(engine, run, f"{run.record_no}-{step.id}.xlsx")
    await off_loop(write_xlsx, path, header, [[r.get(c, "") for c in header] for r in rows])
    stored = await save_file(engine, s, run, step, path, name)
    return Merged(stored, counts, missing, rows)
