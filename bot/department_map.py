"""Which 系部 a platform department is, for ``campusbot directory sync``.

A platform's 通讯录 is a tree (the school at the root, 系部 below, 教研室 below those). A
department is a 系部 when the mapping file names it (by name or by its path from the root,
``学校/机电学院``), else when its name is one of ours; otherwise it takes its parent's, so a
教研室 belongs to its 系部. The root, and anything that reaches it without a match, is unmapped.

The mapping file is YAML (``平台部门: 系部``) or CSV (two columns, ``platform_department,department``).
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.text_files import decode_office_text

PATH_SEPARATOR = "/"


class MappingFileError(Exception):
    """The mapping file cannot be read; the message says why, in the operator's words."""


@dataclass(frozen=True)
class PlatformDepartment:
    id: str
    name: str
    parent_id: str = ""  # "" for the root


def read_mapping(path: Path) -> dict[str, str]:
    """平台部门 (name or path) → 系部, from a .yaml/.yml or .csv file."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise MappingFileError(f"无法读取对应表 {path}：{exc.strerror}") from None
    text = decode_office_text(raw)
    if text is None:
        raise MappingFileError("对应表的编码无法识别，请另存为 UTF-8")
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise MappingFileError(f"对应表不是有效的 YAML：{exc}") from None
        if not isinstance(data, dict):
            raise MappingFileError("对应表应写成“平台部门: 系部”的形式，每行一个")
        pairs = [(str(k), "" if v is None else str(v)) for k, v in data.items()]
    elif suffix == ".csv":
        rows = [r for r in csv.reader(io.StringIO(text)) if any(c.strip() for c in r)]
        if rows and [c.strip().lower() for c in rows[0][:2]] == ["platform_department", "department"]:
            rows = rows[1:]
        pairs = [(r[0], r[1] if len(r) > 1 else "") for r in rows]
    else:
        raise MappingFileError(f"对应表只支持 .yaml 或 .csv，收到的是 {path.suffix or '无扩展名'}")
    out: dict[str, str] = {}
    for key, value in pairs:
        key, value = key.strip(), value.strip()
        if not key or not value:
            raise MappingFileError(f"对应表中“{key or value}”一行缺少平台部门或系部")
        out[key] = value
    return out


class DepartmentMap:
    def __init__(self, departments: list[PlatformDepartment], ours: set[str], exceptions: dict[str, str]) -> None:
        self._by_id = {d.id: d for d in departments}
        self._ours = ours
        self._exceptions = exceptions
        self._memo: dict[str, str | None] = {}

    def path(self, dept_id: str) -> str:
        """学校/机电工程系/电气教研室: how an operator finds the department (and may name it in the file)."""
        names: list[str] = []
        seen: set[str] = set()
        current = self._by_id.get(dept_id)
        while current is not None and current.id not in seen:
            seen.add(current.id)
            names.append(current.name)
            current = self._by_id.get(current.parent_id)
        return PATH_SEPARATOR.join(reversed(names)) or f"#{dept_id}"

    def department_of(self, dept_id: str) -> str | None:
        """The 系部 this platform department belongs to, or None."""
        if dept_id not in self._memo:
            self._memo[dept_id] = None  # a cycle in a broken tree ends here
            self._memo[dept_id] = self._resolve(dept_id)
        return self._memo[dept_id]

    def _resolve(self, dept_id: str) -> str | None:
        dept = self._by_id.get(dept_id)
        if dept is None:
            return None
        for key in (self.path(dept_id), dept.name):
            if key in self._exceptions:
                return self._exceptions[key]
        if dept.parent_id and dept.name in self._ours:
            return dept.name
        return self.department_of(dept.parent_id) if dept.parent_id else None

    def first_mapped(self, dept_ids: tuple[str, ...]) -> str | None:
        for dept_id in dept_ids:
            found = self.department_of(dept_id)
            if found:
                return found
        return None
