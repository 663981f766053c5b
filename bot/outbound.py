"""Platform-neutral outbound messages, as stored in the outbox.

A message is rendered from a template in ``messages/`` before it becomes an
outbox row; the platform's sender only translates this shape to its wire format
(its card renderer maps the semantic button styles). No field here belongs to
one platform: ``reply_ref`` is opaque and only the platform that made it reads it.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

MessageKind = Literal["text", "markdown", "card", "card_update", "recall"]
ButtonStyle = Literal["primary", "secondary", "danger", "link"]
BUTTON_STYLES: tuple[str, ...] = ("primary", "secondary", "danger", "link")
# Outbox rows and cards stored before semantic styles carried WeCom's numbers 1-4.
_LEGACY_STYLES = {1: "primary", 2: "secondary", 3: "danger", 4: "link"}


def button_style(value: object) -> str:
    """A semantic style from a template or an old stored row; anything unknown is primary."""
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, int):
        return _LEGACY_STYLES.get(value, "primary")
    return value if value in BUTTON_STYLES else "primary"


@dataclass
class Button:
    text: str
    key: str  # carries ids only, e.g. "task:12:approve"
    style: str = "primary"  # primary | secondary | danger | link; each platform maps it

    def __post_init__(self) -> None:
        self.style = button_style(self.style)


@dataclass
class Card:
    title: str
    description: str = ""
    fields: list[tuple[str, str]] = field(default_factory=list)
    buttons: list[Button] = field(default_factory=list)
    url: str = ""  # optional link (upload page, record page)
    url_text: str = ""


@dataclass
class OutboundMessage:
    kind: MessageKind
    text: str = ""
    card: Card | None = None
    # card: this card's id, set by the outbox when sending (the same on every resend of a batch).
    card_id: str = ""
    # card_update: the opaque reference of the update being answered (Event.reply_ref);
    # recall: the platform's reference of the message taken back (SendResult.ref).
    reply_ref: str = ""
    replace_name: str = ""  # card_update and recall: the state the buttons turn into, e.g. 已同意, 已撤回
    # card: what it is about ("task:12"), so every delivered copy can be updated when that is settled.
    subject: str = ""
    # card: a short note to send as well through a channel that reports who read it, where the
    # platform has one (Capabilities.read_status; DingTalk's 工作通知); ignored elsewhere.
    read_receipt: str = ""
    # Set by the outbox when sending: >0 when an identical message recently went to one of the
    # recipients, so the platform must make this request differ (see bot.outbox). Never stored.
    variant: int = 0

    def to_json(self) -> dict:
        data = asdict(self)
        del data["variant"]
        return data

    @classmethod
    def from_json(cls, data: dict) -> "OutboundMessage":
        """Reads rows stored before the neutral fields too (``card_task_id``/``response_code``, styles 1-4)."""
        card = data.get("card")
        if card:
            card = Card(
                title=card["title"],
                description=card.get("description", ""),
                fields=[tuple(f) for f in card.get("fields", [])],
                buttons=[Button(text=b["text"], key=b["key"], style=b.get("style", "primary"))
                         for b in card.get("buttons", [])],
                url=card.get("url", ""),
                url_text=card.get("url_text", ""),
            )
        kind = data["kind"]
        legacy_card = data.get("card_task_id", "")
        reply_ref = data.get("reply_ref") or data.get("response_code") or (legacy_card if kind == "card_update" else "")
        return cls(
            kind=kind,
            text=data.get("text", ""),
            card=card,
            card_id=data.get("card_id") or (legacy_card if kind == "card" else ""),
            reply_ref=reply_ref,
            replace_name=data.get("replace_name", ""),
            subject=data.get("subject", ""),
            read_receipt=data.get("read_receipt", ""),
        )
