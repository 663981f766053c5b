"""1.4: the 调停课记录表 — record number, every field, each approval with name and time.

Produced as an xlsx when the record step opens; the printable page is served
from the same data (bot/pages.py).
"""
from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font

from handlers.data import StepHook, register
from models import StoredFile


def record_rows(run, approvals: list[dict]) -> list[tuple[str, str]]:
    rows = [("记录编号", run.record_no), ("申请事项", run.title)]
    rows += [(str(k), str(v)) for k, v in run.data.get("summary", [])]
    for a in approvals:
        verdict = {"approve": "同意", "reject": "驳回", "done": "已完成", "confirm": "已确认"}.get(a["action"], a["action"])
        when = a["at"].strftime("%Y-%m-%d %H:%M") if a["at"] else ""
        rows.append((a["step"], f"{a['name']} {verdict} {when} UTC{('：' + a['reason']) if a['reason'] else ''}"))
    return rows


def write_xlsx(path: Path, title: str, rows: list[tuple[str, str]]) -> None:
    wb = Workbook()
    ws = wb.active
    ws.title = "调停课记录表"
    ws.append([title])
    ws["A1"].font = Font(bold=True, size=14)
    for k, v in rows:
        ws.append([k, v])
    ws.column_dimensions["A"].width = 36
    ws.column_dimensions["B"].width = 60
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)


@register("adjust_record")
class AdjustRecord(StepHook):
    async def on_activate(self, engine, s, run, step, tasks) -> None:
        approvals = await engine.approvals(s, run)
        path = Path(engine.core.settings.data_dir) / "records" / f"{run.record_no}.xlsx"
        write_xlsx(path, "调停课记录表", record_rows(run, approvals))
        s.add(StoredFile(run_id=run.id, step_id=step.id, userid="system", filename=path.name, path=str(path),
                         size=path.stat().st_size,
                         content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                         created_at=engine.core.clock()))
