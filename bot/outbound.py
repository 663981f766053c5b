"""Platform-neutral outbound messages, as stored in the outbox.

A message is rendered from a template in ``messages/`` before it becomes an
outbox row; the platform sender only translates this shape to its wire format.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

MessageKind = Literal["text", "markdown", "card", "card_update"]


@dataclass
class Button:
    text: str
    key: str  # carries ids only, e.g. "task:12:approve"
    style: int = 1  # WeCom styles 1-4; 1 primary, 2 secondary/grey, 3 red, 4 blue


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
    # card: unique id of this card (WeCom task_id); card_update: the card to grey out.
    card_task_id: str = ""
    response_code: str = ""  # card_update only: the code from the click event
    replace_name: str = ""  # card_update only: e.g. 已同意
    # Set by the outbox when sending: >0 when an identical message recently went to one of the
    # recipients, so the platform must make this request differ (see bot.outbox). Never stored.
    variant: int = 0

    def to_json(self) -> dict:
        data = asdict(self)
        del data["variant"]
        return data

    @classmethod
    def from_json(cls, data: dict) -> "OutboundMessage":
        card = data.get("card")
        if card:
            card = Card(
                title=card["title"],
                description=card.get("description", ""),
                fields=[tuple(f) for f in card.get("fields", [])],
                buttons=[Button(**b) for b in card.get("buttons", [])],
                url=card.get("url", ""),
                url_text=card.get("url_text", ""),
            )
        return cls(
            kind=data["kind"],
            text=data.get("text", ""),
            card=card,
            card_task_id=data.get("card_task_id", ""),
            response_code=data.get("response_code", ""),
            replace_name=data.get("replace_name", ""),
        )
