"""The workflow catalog for `campusbot workflows list`: JSON for tools, a table for people.

Both read only the loaded specs, so what is listed is exactly what the bot runs.
"""
from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping

from workflow.spec import Step, WorkflowSpec, code_key

KIND_LABELS = {"notice": "通知", "confirm": "确认", "upload": "上传", "approve": "审批", "form": "填表", "task": "办理"}
CATEGORY_ORDER = ("教学运行", "实践教学", "教学研究", "教学质量")


def _specs(specs: Mapping[str, WorkflowSpec] | Iterable[WorkflowSpec]) -> list[WorkflowSpec]:
    """Accept load_specs()'s dict or any iterable; order by code (1.2 before 1.10)."""
    items = list(specs.values()) if isinstance(specs, Mapping) else list(specs)
    return sorted(items, key=lambda s: code_key(s.code))


def _step(step: Step) -> dict:
    return {"title": step.title, "owner": step.owner, "kind": step.kind}


def workflows_json(specs: Mapping[str, WorkflowSpec] | Iterable[WorkflowSpec]) -> list[dict]:
    """One entry per workflow; a workflow with branches lists its flows as {name, steps}."""
    out = []
    for spec in _specs(specs):
        if spec.flows:
            steps: list[dict] = [{"name": f.name, "steps": [_step(s) for s in f.steps]} for f in spec.flows]
        else:
            steps = [_step(s) for s in spec.steps]
        out.append({"code": spec.code, "name": spec.name, "category": spec.category, "steps": steps})
    return out


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * max(width - _width(text), 0)


def _step_lines(steps: list[Step], indent: str) -> list[str]:
    return [f"{indent}{i}. {s.title}（{s.owner}）[{KIND_LABELS[s.kind]}]" for i, s in enumerate(steps, 1)]


def workflows_table(specs: Mapping[str, WorkflowSpec] | Iterable[WorkflowSpec], steps: bool = False) -> str:
    """Workflows grouped by category: code, name, step count, 时间; with ``steps`` also every step."""
    items = _specs(specs)
    name_w = max((_width(s.name) for s in items), default=4)
    lines: list[str] = []
    for category in [c for c in CATEGORY_ORDER if any(s.category == c for s in items)]:
        if lines:
            lines.append("")
        lines.append(f"【{category}】")
        for spec in (s for s in items if s.category == category):
            count = sum(len(f.steps) for f in spec.all_flows())
            shape = f"{count} 步" + (f"，{len(spec.flows)} 个分支" if spec.flows else "")
            lines.append(f"  {spec.code:<5} {_pad(spec.name, name_w)}  {_pad(shape, 16)}  {spec.time or '—'}")
            if not steps:
                continue
            for flow in spec.all_flows():
                if spec.flows:
                    lines.append(f"        ▸ {flow.name}")
                    lines.extend(_step_lines(flow.steps, "          "))
                else:
                    lines.extend(_step_lines(flow.steps, "        "))
    lines.append("")
    lines.append(f"共 {len(items)} 项工作流程")
    return "\n".join(lines)
