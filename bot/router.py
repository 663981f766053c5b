"""Routes an update to its handler, aiogram style.

Each handler module owns a ``router = Router("name")`` and registers commands,
buttons, conversation states and fallbacks on it with decorators. The
composition root (``bot/composition.py``) includes those routers into one
:class:`Dispatcher` in a visible order and wraps it in middlewares, so what the
bot understands never depends on which module happened to be imported first.

Precedence for one update: a button (by its key's prefix) → the active
conversation (commands marked ``everywhere`` still win) → a command (by its
first word) → the fallbacks in inclusion order → "unknown".
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any, Awaitable, Callable, Iterator

from bot.buttons import ButtonKey
from bot.context import Context
from bot.events import Event

Handler = Callable[[Context], Awaitable[None]]
ButtonHandler = Callable[[Context, Any], Awaitable[None]]  # gets the unpacked ButtonKey
Matcher = Callable[[Context], Awaitable[bool]]  # handles the update when it returns True
# One signature for every middleware: the rest of the chain, the update, and what the chain knows so far.
Next = Callable[[Event, dict], Awaitable[None]]
Middleware = Callable[[Next, Event, dict], Awaitable[None]]


class RoutingError(Exception):
    """Two routers claim the same command word, button prefix or conversation."""


@dataclass
class Command:
    id: str  # names the line in messages/help.j2
    words: tuple[str, ...]
    handler: Handler
    roles: tuple[str, ...] | None = None  # None: everyone in the directory
    takes_args: bool = False  # "进度 1.1"
    everywhere: bool = False  # also acts inside a conversation (帮助, 待办)

    def allowed(self, ctx: Context) -> bool:
        return self.roles is None or ctx.person.has_role(*self.roles)


@dataclass
class Button:
    key: type[ButtonKey]
    handler: ButtonHandler
    malformed: str  # the template answering a key with this prefix that does not parse


@dataclass
class Router:
    """A module's own commands, buttons, conversation states and fallbacks, plus included routers."""

    name: str = "router"
    commands: list[Command] = field(default_factory=list)
    conversations: dict[str, Handler] = field(default_factory=dict)
    buttons: dict[str, Button] = field(default_factory=dict)
    fallbacks: list[Matcher] = field(default_factory=list)
    routers: list["Router"] = field(default_factory=list)
    # After a command that works everywhere (帮助, 待办, 进度) ran inside a conversation: say how to go on.
    resumers: dict[str, Handler] = field(default_factory=dict)

    # ----- registration (decorators) ------------------------------------------------
    def command(self, id: str, *words: str, roles: tuple[str, ...] | None = None, takes_args: bool = False,
                everywhere: bool = False):
        def deco(fn: Handler) -> Handler:
            self.commands.append(Command(id, words, fn, roles, takes_args, everywhere))
            return fn
        return deco

    def conversation(self, name: str):
        def deco(fn: Handler) -> Handler:
            if name in self.conversations:
                raise RoutingError(f"conversation {name!r} registered twice on router {self.name!r}")
            self.conversations[name] = fn
            return fn
        return deco

    def resume(self, name: str):
        """``@router.resume("form")``: repeats the conversation's pending question after an everywhere command."""
        def deco(fn: Handler) -> Handler:
            self.resumers[name] = fn
            return fn
        return deco

    def button(self, key: type[ButtonKey], *, malformed: str = "errors/stale.j2"):
        """``@router.button(TaskAction)``: the handler gets ``(ctx, TaskAction(...))``."""
        def deco(fn: ButtonHandler) -> ButtonHandler:
            if key.prefix in self.buttons:
                raise RoutingError(f"button prefix {key.prefix!r} registered twice on router {self.name!r}")
            self.buttons[key.prefix] = Button(key, fn, malformed)
            return fn
        return deco

    def fallback(self, fn: Matcher) -> Matcher:
        self.fallbacks.append(fn)
        return fn

    def include_router(self, router: "Router") -> "Router":
        """Add a child router; its entries come after everything already included."""
        if router is self or router in self.routers:
            raise RoutingError(f"router {router.name!r} included twice")
        mine = {r.name for r in self.chain()}
        theirs = list(router.chain())
        for r in theirs:
            if r.name in mine:
                raise RoutingError(f"router {r.name!r} included twice")
        self._check_unique(theirs)
        self.routers.append(router)
        return router

    def include_routers(self, *routers: "Router") -> None:
        for r in routers:
            self.include_router(r)

    def _check_unique(self, incoming: list["Router"]) -> None:
        words = {w for c in self.all_commands() for w in c.words}
        prefixes = {p for r in self.chain() for p in r.buttons}
        names = {n for r in self.chain() for n in r.conversations}
        for r in incoming:
            for c in r.commands:
                if clash := words & set(c.words):
                    raise RoutingError(f"router {r.name!r}: command word {sorted(clash)[0]!r} is already taken")
            if clash := prefixes & set(r.buttons):
                raise RoutingError(f"router {r.name!r}: button prefix {sorted(clash)[0]!r} is already taken")
            if clash := names & set(r.conversations):
                raise RoutingError(f"router {r.name!r}: conversation {sorted(clash)[0]!r} is already taken")

    # ----- lookups over this router and everything it includes, in order ----------------
    def chain(self) -> Iterator["Router"]:
        yield self
        for child in self.routers:
            yield from child.chain()

    def all_commands(self) -> list[Command]:
        return [c for r in self.chain() for c in r.commands]

    def allowed_commands(self, ctx: Context) -> list[Command]:
        return [c for c in self.all_commands() if c.allowed(ctx)]

    def find_command(self, text: str) -> tuple[Command, str] | None:
        text = text.strip()
        head, _, rest = text.partition(" ")
        for cmd in self.all_commands():
            if text in cmd.words:
                return cmd, ""
            if cmd.takes_args and head in cmd.words:
                return cmd, rest.strip()
        return None

    def find_button(self, prefix: str) -> Button | None:
        return next((r.buttons[prefix] for r in self.chain() if prefix in r.buttons), None)

    def find_conversation(self, name: str) -> Handler | None:
        return next((r.conversations[name] for r in self.chain() if name in r.conversations), None)

    def find_resume(self, name: str) -> Handler | None:
        return next((r.resumers[name] for r in self.chain() if name in r.resumers), None)

    def all_fallbacks(self) -> list[Matcher]:
        return [m for r in self.chain() for m in r.fallbacks]

    # ----- routing ----------------------------------------------------------------------------
    async def dispatch(self, ctx: Context) -> None:
        ev = ctx.event
        if ev.kind == "button":
            await self._button(ctx)
            return
        if ev.kind == "enter":
            if ctx.conversation is None:
                await ctx.reply("welcome.j2", commands=self.allowed_commands(ctx), startable=startable(ctx))
            return
        found = self.find_command(ctx.text) if ev.kind == "text" else None
        if found and (ctx.conversation is None or found[0].everywhere):
            cmd, args = found
            if not cmd.allowed(ctx):
                await ctx.reply("errors/forbidden.j2", words=cmd.words[0])
                return
            ctx.args = args
            inside = ctx.conversation is not None
            await cmd.handler(ctx)
            resume = self.find_resume(ctx.conversation.handler) if inside and ctx.conversation else None
            if resume is not None:
                await resume(ctx)
            return
        if ctx.conversation is not None:
            handler = self.find_conversation(ctx.conversation.handler)
            if handler is not None:
                await handler(ctx)
                return
            await ctx.end()  # a state no router knows (e.g. a removed feature): forget it
        for matcher in self.all_fallbacks():
            if await matcher(ctx):
                return
        if ev.kind == "image":
            await ctx.reply("errors/unexpected_image.j2")
            return
        await ctx.reply("errors/unknown.j2", commands=self.allowed_commands(ctx), startable=startable(ctx))

    async def _button(self, ctx: Context) -> None:
        prefix = ctx.event.button_key.partition(":")[0]
        button = self.find_button(prefix)
        if button is None:
            await ctx.reply("errors/stale.j2")
            return
        key = button.key.unpack(ctx.event.button_key)
        if key is None:
            await ctx.reply(button.malformed)
            return
        await button.handler(ctx, key)


def startable(ctx: Context) -> list:
    """The workflows this person may start, for the menus that say what they can do."""
    return [s for s in ctx.core.specs.values() if ctx.core.engine.may_start(ctx.person, s)]


class Dispatcher(Router):
    """The root router: the middlewares in the order they were added, then routing.

    Middlewares share one signature, ``async def mw(handler, event, data)``; each
    decides whether to call ``await handler(event, data)``. ``data`` starts with
    ``core`` and ``session``; middlewares add what they know (``person``,
    ``conversation``), and :func:`context_of` turns it into the handlers' :class:`Context`.
    """

    def __init__(self, name: str = "dispatcher"):
        super().__init__(name=name)
        self.middlewares: list[Middleware] = []

    def middleware(self, mw: Middleware) -> Middleware:
        self.middlewares.append(mw)
        return mw

    async def feed(self, event: Event, data: dict) -> None:
        """Run one update through the middlewares and the routers."""
        chain: Next = self._route
        for mw in reversed(self.middlewares):
            chain = partial(mw, chain)
        await chain(event, data)

    async def _route(self, event: Event, data: dict) -> None:
        await self.dispatch(context_of(event, data))


def context_of(event: Event, data: dict) -> Context:
    """The handlers' view of ``data``, built once (after the middlewares that find the person)."""
    ctx = data.get("context")
    if ctx is None:
        ctx = Context(core=data["core"], session=data["session"], event=event, person=data["person"],
                      conversation=data.get("conversation"))
        data["context"] = ctx
    return ctx
