"""Turns a 教务处 handbook (the 教学常规工作 text export) into workflow spec YAML.

The layout is read in ``sections``, the flows in ``steps``, the 时间 cell in
``time_cell``; this module assembles and writes the specs. The importer is deliberately
forgiving (owners missing, arrows split across lines, numbered lists instead of
arrows, sub-flows) so another school's handbook in the same layout imports too.
Owners, kinds, assignees and windows it cannot read are guessed and the guess is
written down in ``note:``; the committed specs are curated by hand afterwards.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from workflow.authoring.sections import Section, one_line, split_sections, squash, strip_number, trim
from workflow.authoring.steps import build_steps, split_flows
from workflow.authoring.time_cell import guess_windows
from workflow.spec import WorkflowSpec


def _text_block(lines: list[str]) -> str:
    """A cell as readable text: one line per item, repeated items dropped (1.1 lists its work twice)."""
    out: list[str] = []
    seen: set[str] = set()
    for line in lines:
        line = squash(line)
        key = trim(line)
        if not key or key in seen:
            continue
        seen.add(key)
        out.append(line)
    return "\n".join(out)



def _standards(lines: list[str]) -> list[str]:
    """工作标准 as checklist items, numbering stripped ('1..注重…', '3. .应…', '3做好…' all occur)."""
    items: list[str] = []
    for line in lines:
        for part in re.split(r"(?<=[；;。])\s*(?=\d{1,2}\s*[.．、])", line):
            item = trim(strip_number(squash(part)))
            if item:
                items.append(item)
    return items


def _aliases(name: str) -> list[str]:
    """A starting point for chat words (教材管理 -> 教材); the curated specs add the real ones."""
    short = re.sub(r"(建设与管理|建设及管理|修订与管理|制定和管理|管理|建设|工作|组织|办理|实施)$", "", name)
    return [short] if short and short != name and len(short) >= 2 else []


def section_spec(sec: Section) -> dict[str, Any]:
    """The spec dict for one section, keys in the committed order."""
    office, dept = sec.cells.get("office", []), sec.cells.get("dept", [])
    flows = split_flows(sec.cells["flow"])
    if not flows:
        raise ValueError(f"{sec.code}{sec.name}: 工作流程为空")
    spec: dict[str, Any] = {
        "code": sec.code,
        "name": sec.name,
        "category": sec.category,
        "owner": "教务处",
        "starters": ["教务处"],
        "aliases": _aliases(sec.name),
        "time": one_line(sec.cells.get("time", [])),
        "content": _text_block(sec.cells.get("content", [])),
        "windows": guess_windows(sec.cells.get("time", [])),
    }
    if len(flows) == 1:
        spec["steps"] = build_steps(flows[0][1], office, dept)
    else:
        spec["flows"] = [{"id": f"f{i}", "name": fname or sec.name, "steps": build_steps(raw, office, dept)}
                         for i, (fname, raw) in enumerate(flows, 1)]
    spec["standards"] = _standards(sec.cells.get("standards", []))
    return spec


def parse_handbook(text: str) -> list[dict]:
    """Every workflow of a handbook as a spec dict (validated against the schema)."""
    specs = []
    for sec in split_sections(text):
        spec = section_spec(sec)
        try:
            WorkflowSpec.model_validate(spec)
        except ValidationError as exc:  # an importer gap: say which section, keep pydantic's detail
            raise ValueError(f"{sec.code}{sec.name}: 导入结果不符合规格：{exc}") from None
        specs.append(spec)
    if not specs:
        raise ValueError("没有找到任何工作流程：章节标题应形如“1.4调停课”，其后是 TAB 开头的“项目”等栏目")
    return specs


# ---------------------------------------------------------------- YAML output


class _Flow(list):
    """A list written on one line: [a, b]."""


class _FlowMap(dict):
    """A mapping written on one line: {party: 系部, role: 教学秘书}."""


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)
_Dumper.add_representer(_Flow, lambda d, v: d.represent_sequence("tag:yaml.org,2002:seq", v, flow_style=True))
_Dumper.add_representer(_FlowMap, lambda d, v: d.represent_mapping("tag:yaml.org,2002:map", v.items(),
                                                                   flow_style=True))


def _styled(value: Any, key: str = "") -> Any:
    """Mark what is written inline (assignees, date ranges, short lists) so a spec stays scannable."""
    if isinstance(value, dict) and key == "windows":
        value = {k: value[k] for k in sorted(value, key=lambda k: {"kind": 0, "label": 1}.get(k, 2))}
    if isinstance(value, dict):
        styled = {k: _styled(v, k) for k, v in value.items()}
        return _FlowMap(styled) if key == "assignees" or "start" in value and "end" in value else styled
    if isinstance(value, list):
        items = [_styled(v, key) for v in value]
        if key == "assignees":
            return items
        if all(isinstance(v, (str, int)) for v in value) and key != "standards":
            return _Flow(items)
        return items
    return value


def dump_spec(spec: dict) -> str:
    """YAML for one spec: readable Chinese, keys in the order given, short lists inline."""
    header = f"# {spec['code']} {spec['name']} — 由教务处工作手册导入（workflow/authoring/importer.py），请人工核对。\n"
    body = yaml.dump(_styled(spec), Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=1000)
    return header + body


def import_handbook(src: Path, out_dir: Path) -> list[Path]:
    """Write ``<code>.yaml`` for every workflow in the handbook ``src``; returns the files."""
    specs = parse_handbook(Path(src).read_text(encoding="utf-8"))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for spec in specs:
        path = out_dir / f"{spec['code']}.yaml"
        path.write_text(dump_spec(spec), encoding="utf-8")
        paths.append(path)
    return paths
