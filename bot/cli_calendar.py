"""`campusbot calendar check` and `campusbot calendar windows`: the 校历 and its windows as text or JSON."""
from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from pathlib import Path

import click

from bot.config import load_settings
from workflow.agenda import windows_in
from workflow.calendar import DEFAULT_CALENDAR_FILE, CalendarError, SchoolCalendar, load_calendar
from workflow.registry import SpecError, default_specs
from workflow.spec import WorkflowSpec

DEFAULT_SPAN_DAYS = 30  # `calendar windows` without --to shows the next 30 days


def configured_calendar_path() -> Path:
    """``CAMPUSBOT_CALENDAR_FILE`` (a file or a folder of them), else the shipped 2026-2027 校历.

    Raises bot.config.ConfigError when the environment is invalid.
    """
    return load_settings().calendar_file or DEFAULT_CALENDAR_FILE


def windows_between(
    specs: Mapping[str, WorkflowSpec] | Iterable[WorkflowSpec],
    cal: SchoolCalendar,
    start: dt.date,
    end: dt.date,
) -> list[dict[str, str]]:
    """Every spec window overlapping start..end as {code, name, label, start, end}, ISO dates.

    Sorted by start, then code (1.9 before 1.10); on-demand specs have none.
    """
    return [{"code": w.code, "name": w.spec.name, "label": w.label, "start": w.start.isoformat(),
             "end": w.end.isoformat()} for w in windows_in(specs, cal, start, end)]


def _load_or_report(path: Path | None) -> SchoolCalendar | None:
    """The 校历, or None after printing every problem with it."""
    try:
        return load_calendar(path if path is not None else configured_calendar_path())
    except CalendarError as exc:
        click.echo("校历无效 (invalid calendar):", err=True)
        for line in exc.problems:
            click.echo(f"  {line}", err=True)
        return None


def calendar_check_command(path: Path | None) -> int:
    """``campusbot calendar check``: 0 when the 校历 loads (warnings are printed), 1 when invalid."""
    cal = _load_or_report(path)
    if cal is None:
        return 1
    for sem in cal.semesters:
        exams = f"，考试周第 {'、'.join(map(str, sem.exam_weeks))} 周" if sem.exam_weeks else ""
        click.echo(f"{sem.title}: {sem.start} 至 {sem.end}，共 {sem.weeks} 周{exams}")
    click.echo(f"节假日 {len(cal.holidays)} 天，调休上班 {len(cal.makeup_workdays)} 天")
    warnings = cal.check()
    for w in warnings:
        click.echo(f"警告: {w}")
    click.echo(f"校历有效 (OK)，{len(warnings)} 条警告" if warnings else "校历有效 (OK)")
    return 0


def calendar_windows_command(
    date_from: dt.date | str | None,
    date_to: dt.date | str | None,
    as_json: bool,
    path: Path | None,
    *,
    specs: Mapping[str, "WorkflowSpec"] | None = None,
) -> int:
    """``campusbot calendar windows``: spec windows overlapping the dates; 0 ok, 1 invalid input.

    ``date_from`` defaults to today, ``date_to`` to 30 days later; ``specs`` to every spec.
    """
    try:
        start = _parse_day(date_from) or dt.date.today()
        end = _parse_day(date_to) or start + dt.timedelta(days=DEFAULT_SPAN_DAYS)
    except ValueError as exc:
        click.echo(str(exc), err=True)
        return 1
    if end < start:
        click.echo(f"--to {end} 早于 --from {start}", err=True)
        return 1
    cal = _load_or_report(path)
    if cal is None:
        return 1
    if specs is None:
        try:
            specs = default_specs()
        except SpecError as exc:
            click.echo(f"流程定义无效 (invalid specs):\n{exc}", err=True)
            return 1
    rows = windows_between(specs, cal, start, end)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    click.echo(f"{start} 至 {end} 的工作窗口：{len(rows)} 个")
    for r in rows:
        label = f"  {r['label']}" if r["label"] else ""
        click.echo(f"{r['start']} ~ {r['end']}  {r['code']:<5} {r['name']}{label}")
    return 0


def _parse_day(v: dt.date | dt.datetime | str | None) -> dt.date | None:
    if v is None or v == "":
        return None
    if isinstance(v, (dt.date, dt.datetime)):
        return v.date() if isinstance(v, dt.datetime) else v
    try:
        return dt.date.fromisoformat(str(v).strip())
    except ValueError:
        raise ValueError(f"日期应写成 YYYY-MM-DD，而不是 {v!r}") from None
