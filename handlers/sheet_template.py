"""The blank sheet an upload step offers: its columns in the first row, required ones
first, and a second sheet saying which may stay blank. Written through the inert
writer (every cell text), kept under ``data_dir`` by the columns it holds, so a spec
that changes its columns gets a new file and an unchanged one is written once."""
from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

from handlers.data.inert import write_text_sheets


def template_path(root: Path, required: list[str], optional: list[str]) -> Path:
    key = hashlib.sha256("\x1f".join(required + ["|"] + optional).encode()).hexdigest()[:16]
    return root / "files" / "templates" / f"{key}.xlsx"


def write_template(dest: Path, required: list[str], optional: list[str], words: dict[str, str]) -> Path:
    """Blocking (``off_loop``). ``words``: the sheets' titles and labels, from messages/data/sheet_template.j2."""
    if dest.exists():
        return dest
    guide = [[c, words["required"]] for c in required] + [[c, words["optional"]] for c in optional]
    partial = dest.with_name(f".{uuid.uuid4().hex}.part.xlsx")
    try:
        write_text_sheets(partial, [(words["sheet"], required + optional, []),
                                    (words["guide"], [words["column"], words["rule"]], guide)])
        os.replace(partial, dest)
    finally:
        partial.unlink(missing_ok=True)
    return dest
