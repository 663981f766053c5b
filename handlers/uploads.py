"""Uploads in chat: an image sent to the bot goes to the person's open upload step."""
from __future__ import annotations

from bot.context import Context
from bot.router import Router
from handlers.files import accept_file

router = Router("uploads")


@router.fallback
async def image_to_upload(ctx: Context) -> bool:
    if ctx.event.kind != "image":
        return False
    engine = ctx.core.engine
    pairs = [(t, r) for t, r in await engine.open_tasks(ctx.session, ctx.userid) if t.kind == "upload"]
    if not pairs:
        return False
    att = ctx.event.attachment
    if att is None:
        await ctx.reply("upload/fetch_failed.j2")
        return True
    task, run = pairs[0]
    step = engine.steps(run)[task.step_index]
    if step.accept and "image" not in step.accept:
        await ctx.reply("upload/needs_file.j2", step=step, url=engine.upload_url(task), accept=step.accept)
        return True
    outcome = await accept_file(engine, ctx.session, task, run, ctx.person, att.path, att.filename, att.size,
                                att.content_type)
    await ctx.reply("upload/result.j2", outcome=outcome, step=step, run=run, url=engine.upload_url(task))
    return True
