"""我的课表 / 本周课表 / 下周课表, 班级课表 信息2301, 教室 A201 周四: the effective timetable, phone-sized.

Each answer covers one teaching week (Monday..Sunday) and marks what approved 调停课 changed.
"""
from __future__ import annotations

import datetime as dt
import re

from bot import directory
from bot.context import Context
from bot.reminders.working_time import calendar_for
from bot.router import Router
from bot.timetable_store import effective_between, plain_meetings
from handlers.when.dialog import today_of
from workflow.timetable.effective import Occurrence, base_occurrences
from workflow.timetable.terms import term_on
from workflow.timetable.weeks import WeekSpecError, parse_weekday

router = Router("timetable")
TEACHING = ("任课教师", "系部主任", "教研室主任")
CLASS_ROLES = ("教学秘书", "辅导员", "教务处")


async def _week(ctx: Context, next_week: bool, keep) -> tuple[dt.date, list[Occurrence], list[Occurrence]]:
    """(Monday, what happens, what the 课表 had that no longer happens) for ``keep``'s meetings."""
    today = today_of(ctx)
    monday = today - dt.timedelta(days=today.weekday()) + dt.timedelta(days=7 if next_week else 0)
    sunday = monday + dt.timedelta(days=6)
    cal = calendar_for(ctx.core.settings)
    occ, _pending = await effective_between(ctx.session, cal, monday, sunday)
    term = term_on(cal, monday)
    base = base_occurrences(await plain_meetings(ctx.session, term), cal, monday, sunday) if term else []
    held = {(o.date, o.first, o.meeting_id) for o in occ if not o.change}
    gone = [o for o in base if keep(o) and (o.date, o.first, o.meeting_id) not in held
            and not any(x.change == "代课" and (x.date, x.first, x.meeting_id) == (o.date, o.first, o.meeting_id)
                        for x in occ)]
    return monday, [o for o in occ if keep(o)], gone


async def _reply_week(ctx: Context, title: str, next_week: bool, keep, day: int | None = None) -> None:
    monday, occ, gone = await _week(ctx, next_week, keep)
    if day is not None:
        occ = [o for o in occ if o.date.isoweekday() == day]
        gone = [o for o in gone if o.date.isoweekday() == day]
    week = calendar_for(ctx.core.settings).teaching_week(monday)
    await ctx.reply("timetable/week.j2", title=title, monday=monday, sunday=monday + dt.timedelta(days=6),
                    week=week[1] if week else None, items=occ, gone=gone, me=ctx.userid)


@router.command("my_timetable", "我的课表", "本周课表", roles=TEACHING)
async def cmd_my_timetable(ctx: Context) -> None:
    await _reply_week(ctx, ctx.person.name, False, lambda o: o.teacher_userid == ctx.userid)


@router.command("next_timetable", "下周课表", roles=TEACHING)
async def cmd_next_timetable(ctx: Context) -> None:
    await _reply_week(ctx, ctx.person.name, True, lambda o: o.teacher_userid == ctx.userid)


@router.command("class_timetable", "班级课表", roles=CLASS_ROLES, takes_args=True)
async def cmd_class_timetable(ctx: Context) -> None:
    name = ctx.args.strip()
    if not name:
        await ctx.reply("timetable/ask_class.j2")
        return
    dept = await directory.class_department(ctx.session, name)
    if dept is None:
        await ctx.reply("timetable/unknown_class.j2", class_name=name)
        return
    if not ctx.person.has_role("教务处") and dept != ctx.person.department:
        await ctx.reply("timetable/not_your_class.j2", class_name=name, department=dept)
        return
    await _reply_week(ctx, name, False, lambda o: name in o.classes)


@router.command("room_timetable", "教室", roles=("教务处",), takes_args=True)
async def cmd_room_timetable(ctx: Context) -> None:
    parts = re.split(r"\s+", ctx.args.strip())
    room = parts[0] if parts and parts[0] else ""
    if not room:
        await ctx.reply("timetable/ask_room.j2")
        return
    day = None
    if len(parts) > 1:
        try:
            day = parse_weekday(parts[1])
        except WeekSpecError:
            await ctx.reply("timetable/bad_day.j2", text=parts[1])
            return
    await _reply_week(ctx, room, False, lambda o: o.room == room, day)
