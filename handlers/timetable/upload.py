"""课表 (for 教务处): the link to the upload page that imports a term's 课表, as the CLI does.

WeCom delivers no files to an app, so the file goes through a signed page (bot/timetable_pages.py);
the reply says which term is current and how many meetings the bot knows for it.
"""
from __future__ import annotations

from bot.context import Context
from bot.links import public_base, signed_task_link
from bot.reminders.working_time import calendar_for
from bot.router import Router
from bot.timetable_store import plain_meetings
from handlers.when.dialog import today_of
from workflow.timetable.terms import term_on

router = Router("timetable_upload")
PAGE_KIND = "timetable"
TEMPLATE_PATH = "/timetable/template.xlsx"


def upload_link(ctx: Context) -> str:
    """One link per person; the page checks it names an 教务处 person still."""
    return signed_task_link(ctx.core.settings, PAGE_KIND, 0, ctx.userid)


@router.command("timetable_upload", "课表", "导入课表", "上传课表", "更新课表", roles=("教务处",))
async def cmd_timetable_upload(ctx: Context) -> None:
    term = term_on(calendar_for(ctx.core.settings), today_of(ctx))
    count = len(await plain_meetings(ctx.session, term)) if term else 0
    await ctx.reply_card("timetable/upload_card.yaml.j2", term=term, count=count, url=upload_link(ctx),
                         template_url=public_base(ctx.core.settings) + TEMPLATE_PATH)
