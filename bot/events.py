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
    platform: str
    userid: str
    kind: EventKind
    # Unique per delivered update; retries of the same update share it.
    dedup_key: str
    text: str = ""
    button_key: str = ""
    card_task_id: str = ""
    response_code: str = ""
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
            "card_task_id": self.card_task_id,
            "response_code": self.response_code,
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
            card_task_id=data.get("card_task_id", ""),
            response_code=data.get("response_code", ""),
            attachment=Attachment(**att) if att else None,
            created_at=datetime.fromisoformat(data["created_at"]),
        )
