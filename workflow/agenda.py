"""Which spec windows fall in a period: the reminders' digest, 本周, 日程 and the CLI read them here."""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

from workflow.spec import WorkflowSpec, code_key
from workflow.windows import TeachingCalendar, resolve

SpecFilter = Callable[[WorkflowSpec], bool]


@dataclass(frozen=True)
class WindowItem:
    code: str
    label: str
    start: date
    end: date
    spec: WorkflowSpec = field(compare=False, hash=False)


def windows_in(specs: Mapping[str, WorkflowSpec] | Iterable[WorkflowSpec], cal: TeachingCalendar,
               start: date, end: date, only: SpecFilter | None = None) -> list[WindowItem]:
    """Every concrete window overlapping start..end, by start date, then code (1.9 before 1.10)."""
    items = specs.values() if isinstance(specs, Mapping) else specs
    out = {WindowItem(spec.code, w.label, w.start, w.end, spec)
           for spec in items if only is None or only(spec)
           for window in spec.windows for w in resolve(window, cal, start, end)}
    return sorted(out, key=lambda w: (w.start, code_key(w.code), w.end, w.label))


def week_windows(specs: Mapping[str, WorkflowSpec], cal: TeachingCalendar, monday: date,
                 only: SpecFilter | None = None) -> list[WindowItem]:
    """Windows that open or close in the week starting ``monday``."""
    sunday = monday + timedelta(days=6)
    return [w for w in windows_in(specs, cal, monday, sunday, only)
            if monday <= w.start <= sunday or monday <= w.end <= sunday]


def flow_for_label(spec: WorkflowSpec, label: str) -> str | None:
    """The branch a window's label names (1.7 期末考试), when exactly one fits."""
    flows = spec.all_flows()
    if len(flows) == 1:
        return None
    core_label = label.split("（")[0].split("(")[0].strip()
    fits = [f for f in flows if core_label and (core_label in f.name or f.name in core_label)]
    return fits[0].id if len(fits) == 1 else None
