"""What the runtime needs from a platform, and nothing else.

A platform is one folder, ``bot/platforms/<name>/``, whose ``__init__.py`` exposes::

    NAME = "<name>"
    def configured(settings: Settings, mode: str) -> bool      # are its settings complete here?
    def platform(settings: Settings, http: HttpSessions, core: BotCore) -> Platform

and whose :class:`Platform` has a name, its capabilities, its HTTP routes (mounted on the
app), a sender (the outbox's :class:`PlatformSender`) and a card renderer. Only the
composition root (``bot/app.py``, ``bot/cli.py``, ``bot/composition.py``) imports a concrete
platform; ``bot/app.py`` mounts every configured one in a loop, in the order of its
``PLATFORMS`` tuple (that order is also the outbox's tie-break, see ``bot.accounts``).

Adding a platform (DingTalk, say) — nothing outside these steps changes:

1. ``bot/platforms/dingtalk/``: its callback routes turn updates into :class:`~bot.events.Event`
   with ``platform="dingtalk"``, ``account_id`` = DingTalk's user id and ``reply_ref`` = whatever
   it needs later to update the clicked card; then ``await core.accept(event)``.
2. Its sender sends an :class:`~bot.outbound.OutboundMessage` to a batch of DingTalk account
   ids (≤ ``max_batch``), mapping the semantic button styles (primary, secondary, danger, link)
   and using ``message.card_id`` / ``message.reply_ref`` as its own ids; raise
   :class:`TransientSendError` / :class:`PermanentSendError`; make a resend with the same
   ``ref`` idempotent if the platform can.
3. Its ``configured(settings, mode)`` reads its settings; add those fields to
   ``bot/config.py``'s ``Settings`` (``CAMPUSBOT_DINGTALK_*``).
4. Append the module to ``PLATFORMS`` in ``bot/app.py``.
5. People's accounts: a ``dingtalk_userid`` column in the directory file
   (``campusbot directory import``) fills ``person_accounts``; or the platform's own 通讯录
   (``campusbot directory sync --from dingtalk``: a ``directory(settings, session)`` entry
   returning a :class:`bot.directory_sync.DirectorySource`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from aiohttp import ClientSession, ClientTimeout, web

from bot.outbound import OutboundMessage

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.core import BotCore


class TransientSendError(Exception):
    """Worth retrying later (rate limit, 5xx, network)."""


class PermanentSendError(Exception):
    """Retrying will not help (bad request, no valid recipient)."""


@dataclass
class SendResult:
    invalid_users: list[str] = field(default_factory=list)  # account ids the platform refused
    ref: str = ""  # the platform's handle of what it sent (opaque), kept for a later ``recall``
    # account id → the platform's handle on the copy of a card with buttons that person got, for a later update
    card_refs: dict[str, str] = field(default_factory=dict)


@runtime_checkable
class PlatformSender(Protocol):
    name: str
    max_batch: int  # recipients per call (WeCom: 1000)

    async def send(self, userids: list[str], message: OutboundMessage, *, dedup: bool, ref: str = "") -> SendResult:
        """Send ``message`` to ``userids`` — this platform's account ids (``person_accounts``).

        ``dedup``: ask the platform to drop a request identical to one it delivered
        lately (WeCom's enable_duplicate_check). The outbox always asks, from the
        first attempt, and resends a batch as the identical request, so a batch
        that reached the platform before a crash is not delivered twice.
        ``message.variant`` > 0 marks a deliberate repeat of an identical message:
        the platform must make the request differ (or it would be dropped).
        ``ref`` identifies the outbox row, for platforms that store messages themselves.
        Raises TransientSendError or PermanentSendError.
        """
        ...


@dataclass(frozen=True)
class Capabilities:
    """What a platform can show, so nobody has to ask it by name."""

    buttons: bool  # cards with buttons that come back as button events
    card_update: bool  # a clicked card can be greyed out (card_update messages)
    markdown: bool
    max_batch: int  # recipients per send call
    file_messages: bool  # the sender can deliver a file as a message
    recall: bool = False  # a ``recall`` message takes back (or marks) what was sent, by its SendResult.ref
    read_status: bool = False  # the platform is a :class:`ReadStatus` too: who has read what was sent


@runtime_checkable
class ReadStatus(Protocol):
    """Optional: a platform that can say who read a message (DingTalk's 工作通知; WeCom cannot)."""

    async def read_status(self, refs: list[tuple[str, str]]) -> dict[str, bool]:
        """``(account id, SendResult.ref)`` pairs of what was sent with ``read_receipt`` → account id → read.
        Accounts the platform cannot tell about are left out."""
        ...


@runtime_checkable
class Platform(Protocol):
    name: str
    capabilities: Capabilities
    sender: PlatformSender

    def routes(self, app: web.Application) -> None:
        """Mount this platform's HTTP routes (callbacks, pages) on the app."""

    def render_card(self, message: OutboundMessage) -> dict:
        """The platform's wire form of a card (or text) message."""

    async def identify_visitor(self, request: web.Request) -> "str | None | web.Response":
        """A page opened inside this platform's own client: our userid, or the response that identifies
        the visitor first (a login redirect); None when the request is not from this platform's client."""

    async def start(self, *, receive: bool = True) -> None:
        """On app startup, after the database is upgraded (open clients, tokens). ``receive`` False: a
        worker process that only sends (``bot.workers``) opens no connection that brings updates in."""

    async def stop(self) -> None:
        """On cleanup, after the workers stopped."""


class PlatformModule(Protocol):
    """The one entry of a platform folder (its ``__init__``)."""

    NAME: str

    def configured(self, settings: "Settings", mode: str) -> bool: ...

    def platform(self, settings: "Settings", http: "HttpSessions", core: "BotCore") -> Platform: ...


class HttpSessions:
    """One aiohttp ClientSession per platform, opened on first use inside the running loop, closed at cleanup."""

    def __init__(self, timeout: float = 30) -> None:
        self._timeout = ClientTimeout(total=timeout)
        self._sessions: dict[str, ClientSession] = {}

    def get(self, name: str) -> ClientSession:
        if name not in self._sessions:
            self._sessions[name] = ClientSession(timeout=self._timeout)
        return self._sessions[name]

    async def close(self) -> None:
        for session in self._sessions.values():
            await session.close()
        self._sessions.clear()
