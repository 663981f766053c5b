"""Accepting a file for an upload step: limits, the step's checks, history kept.

The checks return :class:`~handlers.problems.Problem` s; they are rendered here,
at the boundary, so ``UploadOutcome.problems`` holds the sentences people read.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.data import step_handler
from handlers.problems import Problem, render_problems
from handlers.sheets import check_columns
from models import Person, Run, StoredFile, Task

MAX_BYTES = 20 * 1024 * 1024
EXTENSIONS = {
    "image": {".jpg", ".jpeg", ".png"},
    "xlsx": {".xlsx"}, "xls": {".xls"}, "csv": {".csv"}, "pdf": {".pdf"},
    "doc": {".doc"}, "docx": {".docx"}, "zip": {".zip"},
}


@dataclass
class UploadOutcome:
    accepted: bool
    problems: list[str] = field(default_factory=list)  # the Problems, rendered
    file: StoredFile | None = None
    step_closed: bool = False


def allowed_extensions(accept: list[str] | None) -> set[str]:
    if not accept:
        return set().union(*EXTENSIONS.values())
    return set().union(*(EXTENSIONS[a] for a in accept))


async def accept_file(engine, s: AsyncSession, task: Task, run: Run, person: Person, path: str, filename: str,
                      size: int, content_type: str) -> UploadOutcome:
    step = engine.steps(run)[task.step_index]
    ext = "." + filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    problems: list[Problem] = []
    if size <= 5:
        problems.append(Problem("empty_file"))
    elif size > MAX_BYTES:
        problems.append(Problem("too_big", {"size": size, "limit_mb": MAX_BYTES // (1024 * 1024)}))
    allowed = allowed_extensions(step.accept)
    if ext not in allowed:
        problems.append(Problem("bad_extension", {"ext": ext, "allowed": sorted(allowed)}))
    hook = step_handler(step.handler)
    if not problems and step.columns and ext in (".xlsx", ".csv"):
        problems += check_columns(path, step.columns, allow_empty=hook is not None and hook.allow_empty_sheet)
    stored = StoredFile(run_id=run.id, task_id=task.id, step_id=step.id, userid=person.userid,
                        department=task.department, filename=filename, path=path, size=size,
                        content_type=content_type, created_at=engine.core.clock())
    if not problems and hook is not None:
        problems += hook.check_upload(step, stored, path)
    if problems:
        said = render_problems(engine.core.renderer, problems)
        await engine.audit(s, run, task, person.userid, "upload_refused", "；".join(said)[:500])
        return UploadOutcome(False, said)
    s.add(stored)
    await s.flush()
    if task.status != "open":  # a corrected file while the step is still running: kept beside the first
        await engine.audit(s, run, task, person.userid, "resubmit", filename)
        return UploadOutcome(True, [], stored, False)
    decision = await engine.act(s, task.id, person, "done", {"file_id": stored.id, "filename": filename})
    return UploadOutcome(True, [], stored, decision.outcome == "ok")
