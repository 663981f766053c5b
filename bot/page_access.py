"""Who may open a page from a card, and who is opening it.

Outside WeCom (the demo's local chat, a plain browser) the signed link is the
credential, as before. Inside a platform's own client the platform identifies the
visitor (``Platform.identify_visitor``; WeCom: OAuth, bot/platforms/wecom/oauth.py; DingTalk: 免登,
bot/platforms/dingtalk/login.py) and a page serves only the person the link was
made for or someone with rights over the run; anyone else who was forwarded the
link gets a polite refusal. Refusals are macros in ``messages/pages/texts.j2``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web
from sqlalchemy import select

from bot.page_message import message
from models import Person, Run, Task

__all__ = ["message", "visitor", "has_rights_over", "may_see_record"]

if TYPE_CHECKING:
    from bot.core import BotCore

RUN_OFFICE = "教务处"  # the office accountable for every run


async def visitor(request: web.Request, core: "BotCore") -> str | None | web.Response:
    """Inside a mounted platform's client: the identified userid, or the response that identifies
    the visitor first (WeCom: a redirect for a GET; a refusal asking to reopen the page otherwise).
    Anywhere else: None — the signed link alone stands."""
    for platform in core.platforms:
        found = await platform.identify_visitor(request)
        if found is not None:
            return found
    return None


def has_rights_over(run: Run, person: Person | None) -> bool:
    """The run's owner, or 教务处, which is accountable for every run."""
    if person is None:
        return False
    return person.userid == run.owner_userid or person.has_role(RUN_OFFICE)


async def may_see_record(s, run: Run, userid: str) -> bool:
    """A 调停课 record is for the teacher, whoever had a part in the run (approvers, 教务处,
    the 教学秘书 told), 教务处 and the 教学秘书 of the class's 系部."""
    if not userid:
        return False
    if userid in (run.started_by, run.owner_userid):
        return True
    person = await s.get(Person, userid)
    if person is None:
        return False
    if has_rights_over(run, person):
        return True
    if run.subject_department and person.has_role("教学秘书") and person.department == run.subject_department:
        return True
    part = await s.execute(select(Task.id).where(Task.run_id == run.id, Task.assignee == userid).limit(1))
    return part.first() is not None
