"""A run's files as one zip, built on the file pool (never on the event loop), within the
same limits as the run page's zip (handlers/run_files.py ``build_zip``)."""
from __future__ import annotations

from pathlib import Path

from handlers.offload import off_loop
from handlers.run_files import ZipRefused, build_zip as _build

__all__ = ["ZipRefused", "build_zip", "entry_name"]


async def build_zip(target: Path, entries: list[tuple[str, str]]) -> Path:
    """``entries``: (path on disk, name inside the zip); missing files are left out.
    Raises :class:`ZipRefused` past the size limit."""
    return await off_loop(_build, target, [(name, path) for path, name in entries])


def entry_name(step_title: str, owner: str, file_id: int, filename: str) -> str:
    """步骤/系部或人/编号-文件名: every version kept apart, nothing overwritten."""
    clean = [p.replace("/", "_").replace("\\", "_") for p in (step_title, owner, f"{file_id}-{filename}")]
    return "/".join(clean)
