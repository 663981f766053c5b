"""Upload steps whose spreadsheets 教务处 wants as one sheet: each 系部 uploads its
own (columns checked row by row when it arrives); when the step is over, 教务处
gets them merged, with a 系部 column, as a card whose button opens a signed download link.

- 1.1 ``abnormal_students``: 异常信息学生名单; a 学号 may appear once per sheet, and a
  sheet with only its header row means the 系部 has no abnormal students (0 rows).
- 1.6 ``attendance_sheets``: 考勤统计表; every column ending in 课时 is a number.
- 4.7 ``evaluation_completion``: 评教完成情况; 完成比率 is a percentage, and
  教务处 also gets each 系部's rate (the mean over its 参评班级).
"""
from __future__ import annotations

from handlers.data import StepHook
from handlers.data.office import DEPARTMENT_COLUMN, merge_uploads, tell_office
from handlers.data.tables import MAX_PROBLEMS, check_table, fmt_number, parse_percent, problem, records
from handlers.problems import Problem
from workflow.spec import Step
from handlers.sheets import Table

MERGED = "data/merged.yaml.j2"
RATES = "data/evaluation_rates.j2"


class MergedUpload(StepHook):
    """Check each 系部's sheet on arrival; merge them for 教务处 when the step is over."""

    def number_columns(self, step: Step) -> tuple[str, ...]:
        return ()

    def percent_columns(self, step: Step) -> tuple[str, ...]:
        return ()

    def check_upload(self, step: Step, table: Table | None) -> list[Problem]:
        return check_table(table, step.columns or [], numbers=self.number_columns(step),
                           percents=self.percent_columns(step), allow_empty=self.allow_empty_sheet,
                           optional=step.optional_columns)

    async def on_complete(self, engine, s, run, step) -> None:
        merged = await merge_uploads(engine, s, run, step, engine.steps(run).index(step), step.sheet_columns())
        await tell_office(engine, s, run, MERGED, file=merged.file, step=step, merged=merged)


class AbnormalStudents(MergedUpload):
    KEY = "学号"
    allow_empty_sheet = True  # 本系部无异常学生: the header row alone

    def check_upload(self, step, table) -> list[Problem]:
        problems = super().check_upload(step, table)
        if problems or self.KEY not in (step.columns or []):
            return problems
        first: dict[str, int] = {}
        for rec in records(table or [], [self.KEY]):
            value = rec[self.KEY]
            if value in first:
                problems.append(problem("duplicate", row=rec["_row"], column=self.KEY, value=value,
                                        first=first[value]))
                if len(problems) >= MAX_PROBLEMS:
                    break
            first.setdefault(value, rec["_row"])
        return problems


class AttendanceSheets(MergedUpload):
    def number_columns(self, step):
        return tuple(c for c in step.sheet_columns() if c.endswith("课时"))


class EvaluationCompletion(MergedUpload):
    RATE = "完成比率"

    def percent_columns(self, step):
        return (self.RATE,) if self.RATE in step.sheet_columns() else ()

    async def on_complete(self, engine, s, run, step) -> None:
        merged = await merge_uploads(engine, s, run, step, engine.steps(run).index(step), step.sheet_columns())
        by_dept: dict[str, list[tuple[float, dict]]] = {}
        for row in merged.rows:
            value = parse_percent(row.get(self.RATE, ""))
            if value is not None:
                by_dept.setdefault(row[DEPARTMENT_COLUMN], []).append((value, row))
        rates = []
        for dept, pairs in by_dept.items():
            low_value, low_row = min(pairs, key=lambda pair: pair[0])
            rates.append(dict(department=dept, classes=len(pairs), rate=_mean([v for v, _ in pairs]),
                              lowest=low_row, lowest_rate=fmt_number(low_value)))
        every = [v for pairs in by_dept.values() for v, _ in pairs]
        await tell_office(engine, s, run, RATES, step=step, merged=merged, rates=rates,
                          overall=_mean(every) if every else "", classes=len(every))
        await tell_office(engine, s, run, MERGED, file=merged.file, step=step, merged=merged)


def _mean(values: list[float]) -> str:
    return fmt_number(round(sum(values) / len(values), 1))
