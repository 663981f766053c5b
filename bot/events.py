"""Platform-neutral inbound events.

Only ``bot/platforms/*`` knows WeCom or the local chat; everything after the
adapter sees an :class:`Event` (nonebot2's Adapter/Event split).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Literal

EventKind = Literal["text", "image", "button", "enter", "other"]


@dataclass(frozen=True)
class Attachment:
    """A file the adapter already fetched and stored (WeCom media ids die in 3 days)."""

    path: str
    filename: str
    size: int
    content_type: str


@dataclass(frozen=True)
class Event:
    """One update. The adapter fills ``account_id`` (the platform's own id for the sender);
    the inbound store resolves it to our ``userid`` through ``person_accounts`` (an unknown
    account gets a stranger key that is never a person's userid)."""

    platform: str
    userid: str
    kind: EventKind
    # Unique per delivered update; retries of the same update share it.
    dedup_key: str
    text: str = ""
    button_key: str = ""
    # Opaque: only the platform that made it interprets it (WeCom: the click's ResponseCode;
    # devchat: the clicked card's id). A card_update answering this update carries it back.
    reply_ref: str = ""
    account_id: str = ""
    attachment: Attachment | None = None
    created_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    def to_json(self) -> dict:
        data = {
            "platform": self.platform,
            "userid": self.userid,
            "kind": self.kind,
            "dedup_key": self.dedup_key,
            "text": self.text,
            "button_key": self.button_key,
            "reply_ref": self.reply_ref,
            "account_id": self.account_id,
            "created_at": self.created_at.isoformat(),
            "attachment": None,
        }
        if self.attachment:
            a = self.attachment
            data["attachment"] = {
                "path": a.path, "filename": a.filename, "size": a.size, "content_type": a.content_type,
            }
        return data

    @classmethod
    def from_json(cls, data: dict) -> "Event":
        att = data.get("attachment")
        return cls(
            platform=data["platform"],
            userid=data["userid"],
            kind=data["kind"],
            dedup_key=data["dedup_key"],
            text=data.get("text", ""),
            button_key=data.get("button_key", ""),
            # Updates stored before the neutral fields: WeCom's ResponseCode, else devchat's card id.
            reply_ref=data.get("reply_ref") or data.get("response_code") or data.get("card_task_id") or "",
            account_id=data.get("account_id", data["userid"]),
            attachment=Attachment(**att) if att else None,
            created_at=datetime.fromisoformat(data["created_at"]),
        )
