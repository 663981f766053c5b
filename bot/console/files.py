"""A run's files as one zip, built on the file pool (never on the event loop)."""
from __future__ import annotations

import zipfile
from pathlib import Path

from handlers.offload import off_loop


def _zip(target: Path, entries: list[tuple[str, str]]) -> Path:
    """``entries``: (path on disk, name inside the zip); missing files are left out."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path, name in entries:
            if Path(path).is_file():
                zf.write(path, name)
    return target


async def build_zip(target: Path, entries: list[tuple[str, str]]) -> Path:
    return await off_loop(_zip, target, entries)


def entry_name(step_title: str, owner: str, file_id: int, filename: str) -> str:
    """步骤/系部或人/编号-文件名: every version kept apart, nothing overwritten."""
    clean = [p.replace("/", "_").replace("\\", "_") for p in (step_title, owner, f"{file_id}-{filename}")]
    return "/".join(clean)
