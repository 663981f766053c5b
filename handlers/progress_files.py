"""The files of a run, under its 进度: each upload one tap away (a signed link per file and
version), and one link to the page with everything and a zip per step (bot/run_files_pages.py).

Sent as markdown so a link shows as its file's name, never as a raw URL. A WeCom markdown
message holds 2048 bytes and a link cut in half opens nothing, so fewer people are listed
until the message fits; the page link always stays.
"""
from __future__ import annotations

from bot.context import Context
from bot.links import download_url, run_files_url
from bot.outbound import OutboundMessage
from handlers.run_files import chat_label, run_files
from workflow.authority import may_see_files
from models import Run

TEMPLATE = "run/files.j2"
CHAT_BYTES = 1800
SHOWN = (8, 4, 2, 1, 0)  # people listed per step, tried in turn until the message fits


async def files_message(ctx: Context, run: Run) -> OutboundMessage | None:
    """The run's files for this person, or None when there are none or they may not see them."""
    if not may_see_files(run, ctx.person):
        return None
    steps = await run_files(ctx.session, run, ctx.core.engine.steps(run))
    if not steps:
        return None
    settings = ctx.core.settings
    links = {f.id: download_url(settings, f.id, ctx.userid) for st in steps for f in st.uploads + st.produced}
    page = run_files_url(settings, run.id, ctx.userid)
    text = ""
    for shown in SHOWN:
        text = ctx.render.text(TEMPLATE, run=run, steps=steps, links=links, page=page, shown=shown,
                               label=chat_label)
        if len(text.encode()) <= CHAT_BYTES:
            break
    return OutboundMessage(kind="markdown", text=text)
