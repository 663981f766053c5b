"""Accepting a file for an upload step, in two halves so no upload blocks the bot.

1. :func:`inspect_upload` — blocking: size, extension, what the bytes really are
   (:mod:`handlers.sniff`), and for a spreadsheet one bounded, streamed read
   and the step's checks. Run it with :func:`handlers.offload.off_loop`,
   holding no database session.
2. :func:`accept_file` — in a session: record the file (or the refusal in the
   audit log) and close the task.

A refused file is the caller's to delete. The checks return
:class:`~handlers.problems.Problem` s; they are rendered here, at the boundary,
so ``UploadOutcome.problems`` holds the sentences people read.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.problems import Problem, render_problems
from handlers.sheets import Table, TableRefused, check_columns, read_table
from handlers.sniff import CONTENT_TYPES, extension, kind_for, sniff, zip_problem
from workflow.hooks import StepHook
from workflow.spec import Step
from models import Person, Run, StoredFile, Task

MAX_BYTES = 20 * 1024 * 1024
EXTENSIONS = {
    "image": {".jpg", ".jpeg", ".png"},
    "xlsx": {".xlsx"}, "xls": {".xls"}, "csv": {".csv"}, "pdf": {".pdf"},
    "doc": {".doc"}, "docx": {".docx"}, "zip": {".zip"},
}
TABLE_KINDS = {"xlsx", "xls", "csv"}  # read by handlers.sheets.read_table, one reader for all three
log = logging.getLogger(__name__)


@dataclass
class Inspection:
    """What :func:`inspect_upload` found: the problems, or the file's true kind."""

    problems: list[Problem] = field(default_factory=list)
    kind: str = ""
    content_type: str = "application/octet-stream"


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


def sheet_columns(step: Step, hook: StepHook | None) -> tuple[list[str], list[str]]:
    """The (required, optional) columns an upload to this step is checked against and its template offers."""
    if hook is not None:
        return hook.sheet_columns(step)
    return list(step.columns or []), list(step.optional_columns)


def inspect_upload(step: Step, hook: StepHook | None, path: str, filename: str, size: int) -> Inspection:
    """Blocking; never raises for a bad file (every failure is a Problem). ``hook`` is the step's."""
    try:
        return _inspect(step, hook, path, filename, size)
    except Exception:  # noqa: BLE001 - a file no check foresaw is refused, never a 500
        log.exception("upload %s could not be inspected", filename[:40])
        return Inspection([Problem("unreadable")])


def _inspect(step: Step, hook: StepHook | None, path: str, filename: str, size: int) -> Inspection:
    ext = extension(filename)
    if size <= 5:
        return Inspection([Problem("empty_file")])
    if size > MAX_BYTES:
        return Inspection([Problem("too_big", {"size": size, "limit_mb": MAX_BYTES // (1024 * 1024)})])
    allowed = allowed_extensions(step.accept)
    if ext not in allowed:
        return Inspection([Problem("bad_extension", {"ext": ext, "allowed": sorted(allowed)})])
    try:
        kind = kind_for(ext, sniff(path))
    except OSError:
        kind = None
    if kind is None:
        return Inspection([Problem("wrong_content", {"ext": ext})])
    if kind in ("zip", "docx"):
        bomb = zip_problem(path)
        if bomb is not None:
            return Inspection([bomb])
    found = Inspection([], kind, CONTENT_TYPES[kind])
    if not (step.columns or hook is not None):
        return found
    table: Table | None = None
    if kind in TABLE_KINDS:
        try:
            table = read_table(path)
        except TableRefused as refused:
            return Inspection([refused.problem])
    if step.columns and table is not None:
        found.problems += check_columns(table, step.columns,
                                        allow_empty=hook is not None and hook.allow_empty_sheet)
    if not found.problems and hook is not None:
        found.problems += hook.check_upload(step, table)
    return found


def kept_under(path: Path, root: Path) -> bool:
    """A file the bot may serve: it exists and lies under ``root`` (settings.data_dir), links resolved."""
    try:
        return path.resolve().is_relative_to(root.resolve()) and path.is_file()
    except OSError:
        return False


def discard(path: str) -> None:
    """Delete a refused or partial upload (already gone is fine)."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


async def accept_file(engine, s: AsyncSession, task: Task, run: Run, person: Person, path: str, filename: str,
                      size: int, inspection: Inspection) -> UploadOutcome:
    """Record an inspected file in the open session: refused (audited) or kept and the task done."""
    step = engine.steps(run)[task.step_index]
    if inspection.problems:
        said = render_problems(engine.core.renderer, inspection.problems)
        await engine.audit(s, run, task, person.userid, "upload_refused", "；".join(said)[:500])
        return UploadOutcome(False, said)
    stored = StoredFile(run_id=run.id, task_id=task.id, step_id=step.id, userid=person.userid,
                        department=task.department, filename=filename, path=path, size=size,
                        content_type=inspection.content_type, created_at=engine.core.clock())
    s.add(stored)
    await s.flush()
    if task.status != "open":  # a corrected file while the step is still running: kept beside the first
        await engine.audit(s, run, task, person.userid, "resubmit", filename)
        return UploadOutcome(True, [], stored, False)
    decision = await engine.act(s, task.id, person, "done", {"file_id": stored.id, "filename": filename})
    return UploadOutcome(True, [], stored, decision.outcome == "ok")
