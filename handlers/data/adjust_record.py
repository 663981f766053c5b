"""1.4: the 调停课记录表 — record number, every field, each approval with name and time.

Produced as an xlsx when the record step opens; the printable page is served
from the same data (bot/pages.py). The labels and each approval's line are
macros in ``messages/data/adjust_record.j2``.
"""
from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font

from bot.render import Renderer
from handlers.data import StepHook
from handlers.data.inert import append_text_row
from handlers.offload import off_loop
from models import Person, StoredFile

TEXTS = "data/adjust_record.j2"


def record_rows(renderer: Renderer, run, approvals: list[dict], teacher: Person | None) -> list[tuple[str, str]]:
    """The record's lines: who asked (name, 系部, 工号 — the directory's userid), what, when, who signed."""
    rows = [(renderer.macro(TEXTS, "label_record_no"), run.record_no),
            (renderer.macro(TEXTS, "label_title"), run.title)]
    if teacher is not None:
        rows += [(renderer.macro(TEXTS, "label_teacher"), teacher.name),
                 (renderer.macro(TEXTS, "label_department"), teacher.department),
                 (renderer.macro(TEXTS, "label_staff_no"), teacher.userid)]
    rows += [(str(k), str(v)) for k, v in run.data.get("summary", [])]
    form = run.data.get("form") or {}
    for key in ("original", "new_slot"):  # 教学周 and 周几 on lines of their own, for sorting in Excel
        slot = form.get(key)
        if isinstance(slot, dict) and "weekday" in slot:
            rows += [(renderer.macro(TEXTS, f"label_{key}_week"), renderer.macro(TEXTS, "week", s=slot)),
                     (renderer.macro(TEXTS, f"label_{key}_weekday"), renderer.macro(TEXTS, "weekday", s=slot))]
    for a in approvals:
        rows.append((a["step"], renderer.macro(TEXTS, "approval_line", name=a["name"], action=a["action"], at=a["at"],
                                               reason=a["reason"], label=a.get("label", ""))))
    return rows


def write_xlsx(path: Path, title: str, rows: list[tuple[str, str]]) -> None:
    wb = Workbook()
    ws = wb.active
    ws.title = _sheet_title(title)
    append_text_row(ws, [title])  # every cell inert text: the fields are what people typed
    ws["A1"].font = Font(bold=True, size=14)
    for k, v in rows:
        append_text_row(ws, [k, v])
    ws.column_dimensions["A"].width = 36
    ws.column_dimensions["B"].width = 60
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)


class AdjustRecord(StepHook):
    async def on_activate(self, engine, s, run, step, tasks) -> None:
        approvals = await engine.approvals(s, run)
        renderer = engine.core.renderer
        path = Path(engine.core.settings.data_dir) / "records" / f"{run.record_no}.xlsx"
        rows = record_rows(renderer, run, approvals, await s.get(Person, run.started_by))
        await off_loop(write_xlsx, path, renderer.macro(TEXTS, "sheet_title"), rows)
        s.add(StoredFile(run_id=run.id, step_id=step.id, userid="system", filename=path.name, path=str(path),
                         size=path.stat().st_size,
                         content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                         created_at=engine.core.clock()))


def _sheet_title(title: str) -> str:
    """Excel refuses sheet names over 31 characters or with []:*?/\\."""
    return "".join("_" if c in '[]:*?/\\' else c for c in title)[:31] or "Sheet"
