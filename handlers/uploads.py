"""Uploads in chat: an image sent to the bot goes to the person's open upload step."""
from __future__ import annotations

from bot.context import Context
from bot.router import Router
from handlers.files import accept_file, inspect_upload
from handlers.offload import off_loop
from handlers.sniff import safe_filename

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
        await ctx.reply_card("upload/needs_file.yaml.j2", step=step, url=engine.upload_url(task), accept=step.accept)
        return True
    # An image is only sniffed (a few bytes); the pool keeps even that off the loop.
    name = safe_filename(att.filename, fallback="image")
    inspection = await off_loop(inspect_upload, step, engine.hook(step), att.path, name, att.size)
    outcome = await accept_file(engine, ctx.session, task, run, ctx.person, att.path, name, att.size, inspection)
    await ctx.reply("upload/result.j2", outcome=outcome, step=step, run=run, url=engine.upload_url(task))
    return True
