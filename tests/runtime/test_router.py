"""The router's precedence (button → active conversation → command → fallback),
the middlewares and the typed button keys.

Real objects throughout: a real BotCore on a real SQLite file, the runtime's own
middlewares, routers built here with handlers that note what ran, and the
replies read back from the outbox table. No network, no app server.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.buttons import FillForm, NoticeConfirm, TaskAction, WindowStart
from bot.composition import build_dispatcher
from bot.config import Settings
from bot.context import Context
from bot.core import BotCore
from bot.db import Database
from bot.events import Event
from bot.middlewares import cancel_conversation, load_conversation, refuse_strangers
from bot.render import Renderer
from bot.router import Dispatcher, Router, RoutingError
from models import Base, Conversation, OutboxMessage, Person

ROOT = Path(__file__).resolve().parents[2]


def feature_routers(seen: list) -> tuple[Router, Router]:
    """Two handler modules' worth of routes; every handler notes (name, what it got)."""
    tasks = Router("tasks")

    @tasks.button(TaskAction, malformed="errors/already_done.j2")
    async def on_task(ctx: Context, key: TaskAction) -> None:
        seen.append(("button", key))

    @tasks.conversation("reason")
    async def on_reason(ctx: Context) -> None:
        seen.append(("conversation", ctx.text))

    @tasks.command("progress", "进度", takes_args=True)
    async def progress(ctx: Context) -> None:
        seen.append(("progress", ctx.args))

    @tasks.command("help", "帮助", everywhere=True)
    async def help_(ctx: Context) -> None:
        seen.append(("help", ctx.text))

    @tasks.fallback
    async def declines(ctx: Context) -> bool:
        seen.append(("declined", ctx.text))
        return False

    other = Router("other")

    @other.fallback
    async def alias(ctx: Context) -> bool:
        if ctx.text != "调课":
            return False
        seen.append(("alias", ctx.text))
        return True

    @other.command("notice", "通知", roles=("教务处",))
    async def notice(ctx: Context) -> None:
        seen.append(("notice", ctx.text))

    return tasks, other


@pytest.fixture
async def bot(tmp_path: Path):
    """A real core whose dispatcher has the runtime middlewares and the routers above."""
    seen: list = []
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/router.db")
    async with db.engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    dispatcher = Dispatcher()
    for mw in (refuse_strangers, load_conversation, cancel_conversation):
        dispatcher.middleware(mw)
    dispatcher.include_routers(*feature_routers(seen))
    core = BotCore(Settings(database_url=db.url, data_dir=tmp_path / "data"), db,
                   senders={}, specs={}, dispatcher=dispatcher)
    async with db.session() as s:
        s.add(Person(userid="sunlt", name="孙丽婷", department="机电工程系", roles_text="任课教师"))
    yield core, seen
    await db.dispose()


async def send(core: BotCore, kind: str = "text", text: str = "", key: str = "", userid: str = "sunlt") -> None:
    event = Event(platform="devchat", userid=userid, kind=kind, dedup_key=f"{kind}:{text}:{key}", text=text,
                  button_key=key)
    async with core.db.session() as s:
        await core.handle(s, event)


async def in_conversation(core: BotCore, handler: str = "reason") -> None:
    async with core.db.session() as s:
        s.add(Conversation(userid="sunlt", handler=handler, state="ask", data={}))


async def conversation(core: BotCore) -> Conversation | None:
    async with core.db.session() as s:
        return await s.get(Conversation, "sunlt")


async def replies(core: BotCore) -> list[str]:
    async with core.db.session() as s:
        rows = (await s.execute(select(OutboxMessage).order_by(OutboxMessage.id))).scalars().all()
    return [r.message.get("text", "") for r in rows]


def text_of(template: str, **values) -> str:
    return Renderer().text(template, **values)


# ----- precedence ---------------------------------------------------------------------------
async def test_a_button_beats_the_active_conversation(bot):
    core, seen = bot
    await in_conversation(core)
    await send(core, "button", key="task:12:approve")
    assert seen == [("button", TaskAction(task_id=12, action="approve"))]
    assert await conversation(core) is not None  # the conversation waits for its answer


async def test_the_active_conversation_beats_a_command(bot):
    core, seen = bot
    await in_conversation(core)
    await send(core, text="进度 1.1")
    assert seen == [("conversation", "进度 1.1")]


async def test_a_command_marked_everywhere_still_acts_inside_a_conversation(bot):
    core, seen = bot
    await in_conversation(core)
    await send(core, text="帮助")
    assert seen == [("help", "帮助")]
    assert await conversation(core) is not None


async def test_a_command_beats_the_fallbacks(bot):
    core, seen = bot
    await send(core, text="进度 1.1")
    assert seen == [("progress", "1.1")]


async def test_fallbacks_run_in_inclusion_order_until_one_takes_the_update(bot):
    core, seen = bot
    await send(core, text="调课")
    assert seen == [("declined", "调课"), ("alias", "调课")]
    assert await replies(core) == []


async def test_nothing_matches_so_the_person_hears_what_they_can_do(bot):
    core, seen = bot
    await send(core, text="你好")
    assert seen == [("declined", "你好")]
    [reply] = await replies(core)
    assert "帮助" in reply and "通知" not in reply  # lists only commands this person may use


async def test_a_command_for_other_roles_is_refused_by_name(bot):
    core, seen = bot
    await send(core, text="通知")
    assert seen == []
    assert await replies(core) == [text_of("errors/forbidden.j2", words="通知")]


async def test_a_conversation_no_router_knows_is_forgotten_and_routing_goes_on(bot):
    core, seen = bot
    await in_conversation(core, handler="removed_feature")
    await send(core, text="调课")
    assert await conversation(core) is None
    assert seen == [("declined", "调课"), ("alias", "调课")]


# ----- buttons ------------------------------------------------------------------------------
async def test_a_button_nobody_routes_is_stale(bot):
    core, seen = bot
    await send(core, "button", key="poll:3:yes")
    assert seen == []
    assert await replies(core) == [text_of("errors/stale.j2")]


async def test_a_malformed_key_gets_its_routers_answer_and_no_handler_runs(bot):
    core, seen = bot
    await send(core, "button", key="task:twelve:approve")
    await send(core, "button", key="task:12")
    assert seen == []
    assert await replies(core) == [text_of("errors/already_done.j2")] * 2


def test_keys_pack_to_the_strings_cards_already_carry():
    assert TaskAction(task_id=12, action="approve").pack() == "task:12:approve"
    assert FillForm(task_id=7).pack() == "fill:7"
    assert NoticeConfirm(run_id=3).pack() == "notice:3:confirm"
    assert WindowStart(reminder_id=41).pack() == "window:41:start"
    for key in ("task:12:approve", "fill:7", "notice:3:confirm", "window:41:start"):
        assert next(k for k in (TaskAction, FillForm, NoticeConfirm, WindowStart)
                    if k.prefix == key.split(":")[0]).unpack(key).pack() == key


@pytest.mark.parametrize("cls,key", [
    (TaskAction, "task:12"), (TaskAction, "task:x:approve"), (TaskAction, "task:12:"), (TaskAction, "fill:12:done"),
    (FillForm, "fill:7:extra"), (NoticeConfirm, "notice:3:delete"), (WindowStart, "window:41:stop"),
    (WindowStart, "window::start"),
])
def test_keys_refuse_what_they_did_not_build(cls, key):
    assert cls.unpack(key) is None


def test_keys_refuse_values_that_would_not_parse_back():
    with pytest.raises(ValueError):
        TaskAction(task_id=1, action="a:b").pack()


def test_templates_build_keys_with_the_same_classes():
    env = Renderer().env
    out = env.from_string("{{ TaskAction(task_id=t, action='reject').pack() }} {{ FillForm(task_id=t).pack() }}")
    assert out.render(t=5) == "task:5:reject fill:5"
    card = Renderer().card("notice/card.yaml.j2", run=_Run(), sender=None, reminder=False, need_confirm=True)
    assert NoticeConfirm.unpack(card.buttons[0].key) == NoticeConfirm(run_id=9)


class _Run:
    """Only what the notice card reads."""

    id = 9
    title = "期末考试安排"
    record_no = "通知9"
    data = {"text": "请各系部核对监考安排", "deadline": "", "audience": "全体"}


# ----- middlewares ----------------------------------------------------------------------------
async def test_cancel_leaves_any_conversation_before_routing(bot):
    core, seen = bot
    await in_conversation(core)
    await send(core, text="取消")
    assert seen == []
    assert await conversation(core) is None
    assert await replies(core) == [text_of("cancelled.j2", had_conversation=True)]


async def test_a_stranger_is_answered_once_and_reaches_no_router(bot):
    core, seen = bot
    await send(core, text="帮助", userid="nobody")
    await send(core, "button", key="task:1:approve", userid="nobody")
    assert seen == []
    assert await replies(core) == [text_of("errors/stranger.j2")]


# ----- composition ----------------------------------------------------------------------------
def test_include_refuses_a_second_claim_on_a_word_or_prefix():
    first, second = Router("first"), Router("second")

    @first.command("progress", "进度")
    async def a(ctx): ...

    @second.command("progress2", "进度")
    async def b(ctx): ...

    dp = Dispatcher()
    dp.include_router(first)
    with pytest.raises(RoutingError, match="进度"):
        dp.include_router(second)
    with pytest.raises(RoutingError):
        dp.include_router(first)
    third = Router("third")
    with pytest.raises(RoutingError, match="task"):
        third.button(TaskAction)(a)
        third.button(TaskAction)(b)


def test_the_app_routes_in_the_listed_order():
    dp = build_dispatcher()
    assert [c.id for c in dp.all_commands()] == [
        "notice", "start", "todo", "progress", "remind", "skip", "reassign", "help", "withdraw", "resubmit", "week",
        "schedule", "my_timetable", "next_timetable", "class_timetable", "room_timetable", "timetable_upload"]
    assert [r.name for r in dp.chain()][1:] == ["notices", "workflows", "requests", "disputes", "schedule", "timetable",
                                                "timetable_upload", "forms", "step_form", "uploads"]
    # these also act mid-form, and then the form repeats its question
    assert {c.id for c in dp.all_commands() if c.everywhere} == {"help", "todo", "progress"}


def test_card_buttons_exist_before_any_engine_is_built():
    """A fresh interpreter: building the dispatcher alone routes every card key and knows every step form."""
    code = (
        "import sys\n"
        "from bot.composition import build_dispatcher\n"
        "from handlers.forms import FORMS\n"
        "from workflow.registry import default_specs\n"
        "dp = build_dispatcher()\n"
        "assert 'bot.core' not in sys.modules, 'the composition must not need a core'\n"
        "print(sorted(p for r in dp.chain() for p in r.buttons))\n"
        "forms = {s.form for spec in default_specs().values() for f in spec.all_flows() for s in f.steps if s.form}\n"
        "forms |= {spec.start_form for spec in default_specs().values() if spec.start_form}\n"
        "print(sorted(forms - set(FORMS)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    buttons, missing_forms = out.stdout.splitlines()
    assert buttons == "['dispute', 'fill', 'notice', 'resubmit', 'task', 'window']"
    assert missing_forms == "[]"
