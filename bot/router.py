"""Routes an update to its handler: buttons by key prefix, an open conversation,
then commands by their first word. Handlers register with decorators."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Awaitable, Callable

from bot.context import Context

Handler = Callable[[Context], Awaitable[None]]
ButtonHandler = Callable[[Context, list[str]], Awaitable[None]]
Matcher = Callable[[Context], Awaitable[bool]]  # handles the update when it returns True


@dataclass
class Command:
    id: str  # names the line in messages/help.j2
    words: tuple[str, ...]
    handler: Handler
    roles: tuple[str, ...] | None = None  # None: everyone in the directory
    takes_args: bool = False  # "进度 1.1"

    def allowed(self, ctx: Context) -> bool:
        return self.roles is None or ctx.person.has_role(*self.roles)


@dataclass
class Router:
    commands: list[Command] = field(default_factory=list)
    conversations: dict[str, Handler] = field(default_factory=dict)
    buttons: dict[str, ButtonHandler] = field(default_factory=dict)
    fallbacks: list[Matcher] = field(default_factory=list)

    def command(self, id: str, *words: str, roles: tuple[str, ...] | None = None, takes_args: bool = False):
        def deco(fn: Handler) -> Handler:
            self.commands.append(Command(id, words, fn, roles, takes_args))
            return fn
        return deco

    def conversation(self, name: str):
        def deco(fn: Handler) -> Handler:
            self.conversations[name] = fn
            return fn
        return deco

    def button(self, prefix: str):
        def deco(fn: ButtonHandler) -> ButtonHandler:
            self.buttons[prefix] = fn
            return fn
        return deco

    def fallback(self, fn: Matcher) -> Matcher:
        self.fallbacks.append(fn)
        return fn

    def find_command(self, text: str) -> tuple[Command, str] | None:
        head, _, rest = text.strip().partition(" ")
        for cmd in self.commands:
            if text.strip() in cmd.words:
                return cmd, ""
            if cmd.takes_args and head in cmd.words:
                return cmd, rest.strip()
        return None

    def allowed_commands(self, ctx: Context) -> list[Command]:
        return [c for c in self.commands if c.allowed(ctx)]

    async def dispatch(self, ctx: Context) -> None:
        ev = ctx.event
        if ev.kind == "button":
            prefix, *parts = ev.button_key.split(":")
            handler = self.buttons.get(prefix)
            if handler is None:
                await ctx.reply("errors/stale.j2")
                return
            await handler(ctx, parts)
            return
        if ev.kind == "enter":
            if ctx.conversation is None:
                await ctx.reply("welcome.j2", commands=self.allowed_commands(ctx))
            return
        found = self.find_command(ctx.text) if ev.kind == "text" else None
        # Global words work everywhere; inside a conversation other text belongs to it.
        if found and (ctx.conversation is None or found[0].id in GLOBAL_COMMANDS):
            cmd, args = found
            if not cmd.allowed(ctx):
                await ctx.reply("errors/forbidden.j2", words=cmd.words[0])
                return
            ctx.args = args
            await cmd.handler(ctx)
            return
        if ctx.conversation is not None:
            handler = self.conversations.get(ctx.conversation.handler)
            if handler is not None:
                await handler(ctx)
                return
            await ctx.end()
        for matcher in self.fallbacks:
            if await matcher(ctx):
                return
        if ev.kind == "image":
            await ctx.reply("errors/unexpected_image.j2")
            return
        await ctx.reply("errors/unknown.j2", commands=self.allowed_commands(ctx))


# Words that act even inside a conversation (取消 is handled before routing).
GLOBAL_COMMANDS = {"help", "todo"}

router = Router()
