"""Loads and validates every workflow spec at start-up.

An error names the file, the step and the field, so whoever edits a spec can
fix it without reading Python.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import ValidationError

from workflow.spec import WorkflowSpec, code_key

SPEC_DIR = Path(__file__).parent / "specs"
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's when PyYAML has it: far faster


class SpecError(Exception):
    """One or more spec files are invalid; ``str()`` lists every problem, one per line."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


def _locate(data: dict, loc: tuple) -> str:
    """Turn a pydantic error location into 'step <id>, field <name>'."""
    parts: list[str] = []
    node = data
    i = 0
    while i < len(loc):
        key = loc[i]
        if key in ("steps",) and i + 1 < len(loc) and isinstance(loc[i + 1], int):
            idx = loc[i + 1]
            step = (node.get("steps") or [None] * (idx + 1))[idx] if isinstance(node, dict) else None
            sid = step.get("id") if isinstance(step, dict) else None
            parts.append(f"step {sid or '#' + str(idx + 1)}")
            node = step if isinstance(step, dict) else {}
            i += 2
            continue
        if key == "flows" and i + 1 < len(loc) and isinstance(loc[i + 1], int):
            idx = loc[i + 1]
            flow = (node.get("flows") or [None] * (idx + 1))[idx] if isinstance(node, dict) else None
            fid = flow.get("id") if isinstance(flow, dict) else None
            parts.append(f"flow {fid or '#' + str(idx + 1)}")
            node = flow if isinstance(flow, dict) else {}
            i += 2
            continue
        rest = ".".join(str(k) for k in loc[i:])
        parts.append(f"field {rest}")
        break
    return ", ".join(parts) or "file"


def load_spec_file(path: Path) -> WorkflowSpec:
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER)
    except yaml.YAMLError as exc:
        raise SpecError([f"{path.name}: YAML 格式错误: {exc}"]) from None
    if not isinstance(data, dict):
        raise SpecError([f"{path.name}: 文件内容应是一个映射（code、name、steps …）"])
    try:
        return WorkflowSpec.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = _locate(data, tuple(err["loc"]))
            problems.append(f"{path.name}: {where}: {err['msg']}")
        raise SpecError(problems) from None


def load_specs(spec_dir: Path = SPEC_DIR) -> dict[str, WorkflowSpec]:
    """Every spec in ``spec_dir`` by code; raises SpecError listing all bad files."""
    specs: dict[str, WorkflowSpec] = {}
    problems: list[str] = []
    for path in sorted(spec_dir.glob("*.yaml")):
        try:
            spec = load_spec_file(path)
        except SpecError as exc:
            problems.extend(exc.problems)
            continue
        if spec.code in specs:
            problems.append(f"{path.name}: field code: 编号 {spec.code} 与另一个文件重复")
            continue
        specs[spec.code] = spec
    if problems:
        raise SpecError(problems)
    return dict(sorted(specs.items(), key=lambda kv: code_key(kv[0])))


@lru_cache(maxsize=1)
def default_specs() -> dict[str, WorkflowSpec]:
    return load_specs(SPEC_DIR)


def find_spec(specs: dict[str, WorkflowSpec], words: str) -> WorkflowSpec | None:
    """A spec by code (1.4), name (调停课) or alias (调课)."""
    words = words.strip()
    if words in specs:
        return specs[words]
    for spec in specs.values():
        if words == spec.name or words in spec.aliases:
            return spec
    return None
