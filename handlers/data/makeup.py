"""1.7 开学补考, step 2 (``makeup_list_check``): each 系部 checks its part of the 补考名单.

教务处 uploads the whole list (学号/姓名/班级/系部/科目) in the step, or gives it
in ``run.data["makeup"]``; the bot splits it by the 系部 column, keeps each
系部's part as its own xlsx, and sends each 教学秘书 their part to 确认 or, with
有误, to return the corrections in words, which go to 教务处 at once.
"""
from __future__ import annotations

from bot.links import download_url
from handlers.data.list_check import ListCheck
from handlers.data.office import DEPARTMENT_COLUMN, produced_path, save_file
from handlers.data.tables import write_xlsx
from handlers.offload import off_loop

SHOWN = 5


class MakeupListCheck(ListCheck):
    data_key = "makeup"
    columns = ("学号", "姓名", "班级", DEPARTMENT_COLUMN, "科目")
    received_template = "data/makeup_received.j2"
    dispute_template = "data/makeup_correction.j2"
    summary_template = "data/makeup_summary.j2"

    async def prepare(self, engine, s, run, step, rows):
        files: dict[str, int] = {}
        counts = []
        for dept in run.departments:
            mine = [r for r in rows if r.get(DEPARTMENT_COLUMN) == dept]
            counts.append([dept, len(mine)])
            if mine:
                path = produced_path(engine, run, f"{run.record_no}-{step.id}-{dept}.xlsx")
                await off_loop(write_xlsx, path, list(self.columns), [[r.get(c, "") for c in self.columns] for r in mine])
                stored = await save_file(engine, s, run, step, path, f"{run.record_no}-{dept}.xlsx", dept)
                files[dept] = stored.id
        unknown = [r for r in rows if r.get(DEPARTMENT_COLUMN) not in run.departments]
        return {"rows": rows, "files": files, "counts": counts, "unknown": unknown}

    async def part(self, engine, s, run, task, data):
        mine = [r for r in data["rows"] if r.get(DEPARTMENT_COLUMN) == task.department]
        file_id = data.get("files", {}).get(task.department)
        url = download_url(engine.core.settings, file_id, task.assignee) if file_id else ""
        return {"lines": mine[:SHOWN], "count": len(mine), "more": max(0, len(mine) - SHOWN), "download_url": url}
