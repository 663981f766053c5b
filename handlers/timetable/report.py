"""The 课表 import's report and refusals, in words: one text for the CLI, the upload page and the chat."""
from __future__ import annotations

from bot.render import Renderer
from bot.timetable_store import TimetableReport
from handlers.problems import render_problems
from handlers.timetable.sheet import TimetableFileError

PROBLEMS = "timetable/problems.j2"
SHOWN_CHANGES = 30


def report_text(renderer: Renderer, report: TimetableReport) -> str:
    """The import's summary with one line per refused row; each reason from messages/timetable/problems.j2."""
    problems = [(p.row, renderer.macro(PROBLEMS, p.code, **p.values)) for p in report.problems]
    return renderer.text("timetable/import_report.j2", term=report.term, kept=report.kept, problems=problems,
                         replaced=report.replaced, added=report.added, removed=report.removed,
                         changed=report.changed, limit=SHOWN_CHANGES)


def refusal_reason(renderer: Renderer, exc: TimetableFileError) -> str:
    """Why the whole file was refused (bad suffix, too big, missing columns …)."""
    if exc.code == "sheet_refused":
        return render_problems(renderer, [exc.values["problem"]])[0]
    return renderer.macro(PROBLEMS, exc.code, **exc.values)


def refusal_text(renderer: Renderer, exc: TimetableFileError) -> str:
    return renderer.text("timetable/file_refused.j2", reason=refusal_reason(renderer, exc))
