"""``campusbot timetable import``: the 课表 from a sheet, for one term."""
from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import click

from bot.config import Settings
from bot.db import Database
from bot.reminders.working_time import calendar_for
from bot.render import Renderer
from bot.timetable_store import TimetableReport, import_term
from handlers.timetable.report import refusal_text, report_text
from handlers.timetable.sheet import TimetableFileError, read_file
from workflow.timetable.terms import parse_term, term_on

def timetable_import_command(settings: Settings, file: Path, term: str | None) -> int:
    renderer = Renderer()
    if term is not None and parse_term(term) is None:
        click.echo(renderer.text("timetable/no_term.j2", given=term), err=True)
        return 2
    term = term or term_on(calendar_for(settings), dt.date.today())
    if term is None:
        click.echo(renderer.text("timetable/no_term.j2", given=""), err=True)
        return 2
    if not file.exists():
        click.echo(renderer.text("timetable/file_missing.j2", file=str(file)), err=True)
        return 1
    try:
        meetings, problems = read_file(file)
    except TimetableFileError as exc:
        click.echo(refusal_text(renderer, exc), err=True)
        return 1

    async def go() -> TimetableReport:
        database = Database(settings.database_url)
        try:
            await database.upgrade()
            async with database.session() as s:
                return await import_term(s, term, meetings, problems)
        finally:
            await database.dispose()

    report = asyncio.run(go())
    click.echo(report_text(renderer, report))
    return 0 if not report.problems else 1
