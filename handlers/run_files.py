"""Every file uploaded in a run, as the office looks for it: by step, then by 系部 and
person, each resubmission a numbered version; and a step's files as one zip.

Listing is a query (no file is opened). The zip is blocking work for the file pool
(``handlers/offload.py``), refused above :data:`MAX_ZIP_BYTES`; the run page keeps a
step's zip under a name that changes whenever a file is added, so a second download of
the same step is not zipped again.
"""
from __future__ import annotations

import os
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.files import kept_under
from handlers.sniff import safe_filename
from workflow.people import names
from workflow.spec import Step
from models import Run, StoredFile

SYSTEM = "system"  # files the bot produced (merged sheets, records)
MAX_ZIP_BYTES = 200 * 1024 * 1024
MAX_ZIP_FILES = 2000
_MARKUP = str.maketrans({"[": "［", "]": "］", "(": "（", ")": "）", "*": "＊", "`": "'", "\n": " "})


def chat_label(filename: str) -> str:
    """A file's name, safe as a markdown link's text (brackets and stars made full-width)."""
    return filename.translate(_MARKUP)


@dataclass
class Version:
    n: int  # 1 for the first file this person sent for the step, 2 for the correction after it…
    file: StoredFile

    @property
    def label(self) -> str:
        return chat_label(self.file.filename)


@dataclass
class Holder:
    """One person's files for a step, in their 系部."""

    department: str
    userid: str
    name: str
    versions: list[Version] = field(default_factory=list)

    @property
    def latest(self) -> Version:
        return self.versions[-1]


@dataclass
class StepFiles:
    index: int  # 1-based, as 进度 numbers steps
    step: Step
    holders: list[Holder] = field(default_factory=list)
    produced: list[StoredFile] = field(default_factory=list)  # the bot's merged sheet or record

    @property
    def uploads(self) -> list[StoredFile]:
        return [v.file for h in self.holders for v in h.versions]

    @property
    def size(self) -> int:
        return sum(f.size for f in self.uploads)


async def run_files(s: AsyncSession, run: Run, steps: list[Step]) -> list[StepFiles]:
    """The run's steps that hold files, in step order; 系部 then person within each."""
    rows = (await s.execute(select(StoredFile).where(StoredFile.run_id == run.id)
                            .order_by(StoredFile.id))).scalars().all()
    who = await names(s, {f.userid for f in rows if f.userid != SYSTEM})
    out: list[StepFiles] = []
    for i, step in enumerate(steps):
        mine = [f for f in rows if f.step_id == step.id]
        if not mine:
            continue
        found = StepFiles(i + 1, step)
        holders: dict[tuple[str, str], Holder] = {}
        for f in mine:
            if f.userid == SYSTEM:
                found.produced.append(f)
                continue
            h = holders.setdefault((f.department, f.userid),
                                   Holder(f.department, f.userid, who.get(f.userid, f.userid)))
            h.versions.append(Version(len(h.versions) + 1, f))
        found.holders = sorted(holders.values(), key=lambda h: (h.department, h.name))
        out.append(found)
    return out


class ZipRefused(Exception):
    """The step's files are too many or too large to zip; ``size`` and ``limit_mb`` say so."""

    def __init__(self, size: int, count: int, limit: int):
        super().__init__(f"{count} files, {size} bytes")
        self.size, self.count, self.limit_mb = size, count, limit // (1024 * 1024)


def zip_entries(found: StepFiles, root: Path) -> list[tuple[str, str]]:
    """``(name in the zip, path on disk)``: 系部/姓名/v2_文件名, only files kept under ``root``."""
    out = []
    for h in found.holders:
        folder = f"{safe_filename(h.department, '系部')}/{safe_filename(h.name, h.userid)}"
        for v in h.versions:
            if kept_under(Path(v.file.path), root):
                out.append((f"{folder}/v{v.n}_{v.file.filename}", v.file.path))
    return out


def zip_path(root: Path, run: Run, found: StepFiles) -> Path:
    """Where the step's zip is kept; the newest file id in the name makes it stale on any new upload."""
    newest = max((f.id for f in found.uploads), default=0)
    return root / "files" / "zips" / str(run.id) / f"{found.step.id}-{newest}-{len(found.uploads)}.zip"


def build_zip(dest: Path, entries: list[tuple[str, str]], limit: int = MAX_ZIP_BYTES) -> Path:
    """Blocking (run it with ``off_loop``): the zip at ``dest``, written whole before it appears there.
    Files no longer on disk are left out. The console's zip of a run is built here too."""
    entries = [(name, path) for name, path in entries if os.path.isfile(path)]
    size = sum(os.path.getsize(p) for _, p in entries)
    if size > limit or len(entries) > MAX_ZIP_FILES:
        raise ZipRefused(size, len(entries), limit)
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(f".{uuid.uuid4().hex}.part")
    try:
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, path in entries:
                zf.write(path, name)
        os.replace(partial, dest)
    finally:
        partial.unlink(missing_ok=True)
    return dest
