"""1.6 课时统计, step 1 (``workload_check``): each teacher checks their own workload.

教务处 supplies the 工作量表 (工号/姓名/课程/班级/课时): uploaded in the step
through the signed page on the owner's card, or given in ``run.data["workload"]``
when a run is started by a script. A line belongs to the teacher whose userid is
its 工号, else to the only teacher of that 姓名; lines matching nobody are listed
to 教务处. Each 任课教师's card shows their lines and total: 确认, or 有异议 with a
reason that goes straight to 教务处.
"""
from __future__ import annotations

from bot import directory
from handlers.data.list_check import ListCheck
from handlers.data.office import step_tasks
from handlers.data.tables import fmt_number, parse_number
from handlers.forms import Invalid
from models import Person

SHOWN = 5  # lines on the card; a teacher with more also gets them all as a message
USERID = "_userid"


def _teacher_of(task) -> str:
    """Per-person groups are "<系部>/<userid>": the lines stay the original teacher's after 转派."""
    return task.group.rsplit("/", 1)[-1]


def _total(lines: list[dict]) -> str:
    return fmt_number(sum(parse_number(r.get("课时", "")) or 0 for r in lines))


class WorkloadCheck(ListCheck):
    data_key = "workload"
    columns = ("工号", "姓名", "课程", "班级", "课时")
    number_columns = ("课时",)
    received_template = "data/workload_received.j2"
    dispute_template = "data/workload_dispute.j2"
    dispute_card = "data/workload_dispute_card.yaml.j2"
    summary_template = "data/workload_summary.j2"

    async def prepare(self, engine, s, run, step, rows):
        teachers = await directory.people_with_role(s, "任课教师")
        by_id = {p.userid: p for p in teachers}
        by_name: dict[str, list[Person]] = {}
        for p in teachers:
            by_name.setdefault(p.name, []).append(p)
        unmatched = []
        for r in rows:
            named = by_name.get(r.get("姓名", ""), [])
            who = by_id.get(r.get("工号", "")) or (named[0] if len(named) == 1 else None)
            r[USERID] = who.userid if who else ""
            if who is None:
                unmatched.append(r)
        listed = {r[USERID] for r in rows if r[USERID]}
        asked = [t for t in await step_tasks(s, run, engine.steps(run).index(step)) if "/" in t.group]
        without = sorted({_teacher_of(t) for t in asked} - listed)
        unasked = sorted(listed - {_teacher_of(t) for t in asked})  # lines whose teacher has no card here
        names = await directory.names(s, without + unasked)
        return {"rows": rows, "teachers": len(listed), "total": _total(rows), "unmatched": unmatched,
                "without": [names.get(u, u) for u in without], "unasked": [names.get(u, u) for u in unasked]}

    async def part(self, engine, s, run, task, data):
        teacher = _teacher_of(task)
        lines = [r for r in data["rows"] if r.get(USERID) == teacher]
        return {"lines": lines[:SHOWN], "count": len(lines), "more": max(0, len(lines) - SHOWN),
                "total": _total(lines)}

    async def correct(self, engine, s, run, task, text):
        """"18" sets the teacher's only line (or adds one when they had none); "2 18" sets line 2.
        Nothing changes yet: the list as corrected is under "data", kept once the decision holds."""
        data = self.listed(run) or {"rows": []}
        teacher = _teacher_of(task)
        mine = [r for r in data["rows"] if r.get(USERID) == teacher]
        parts = text.replace("，", " ").replace(",", " ").split()
        numbers = [parse_number(p.removesuffix("课时")) for p in parts]
        if not parts or len(parts) > 2 or any(n is None or n < 0 for n in numbers):
            raise Invalid("correct_format", count=len(mine))
        if len(parts) == 1 and len(mine) > 1:
            raise Invalid("correct_which", count=len(mine))
        index = int(numbers[0]) if len(parts) == 2 else 1
        if len(parts) == 2 and not 1 <= index <= len(mine):
            raise Invalid("correct_which", count=len(mine))
        hours = fmt_number(numbers[-1])
        rows = [dict(r) for r in data["rows"]]
        if mine:
            at = [i for i, r in enumerate(rows) if r.get(USERID) == teacher][index - 1]
            before = rows[at].get("课时", "")
            rows[at]["课时"] = hours
            line = rows[at]
        else:  # the teacher's 课时 were missing from the sheet
            person = await s.get(Person, teacher)
            before = "0"
            line = {"工号": teacher, "姓名": person.name if person else teacher, "课程": "教务处更正", "班级": "",
                    "课时": hours, USERID: teacher}
            rows.append(line)
        return {"line": line, "before": before, "after": hours, "data": {**data, "rows": rows, "total": _total(rows)},
                "total": _total([r for r in rows if r.get(USERID) == teacher])}

    async def announce(self, engine, s, run, step, data):
        by_teacher: dict[str, list[dict]] = {}
        for r in data["rows"]:
            if r[USERID]:
                by_teacher.setdefault(r[USERID], []).append(r)
        for userid, lines in by_teacher.items():
            if len(lines) > SHOWN:
                await engine.notifier.text(s, [userid], "data/workload_lines.j2",
                                           dict(run=run, lines=lines, total=_total(lines)))
