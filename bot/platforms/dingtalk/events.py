"""DingTalk payloads → :class:`Event`: robot messages and card button taps.

The same parsing serves both ways in (stream frames and HTTP callbacks). The
sender is ``senderStaffId``, the organisation's DingTalk userid (``senderId`` is encrypted): an
account id, mapped to our userid through ``person_accounts`` by the inbound store. A tap's
``reply_ref`` is the card's ``outTrackId``, which the card update carries back.
A message dedups on ``msgId``, a tap on card + person + action, so a late ACK's
re-delivery and a double tap have one effect.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from bot.events import Event

PLATFORM = "dingtalk"
TOPIC_ROBOT = "/v1.0/im/bot/messages/get"
TOPIC_CARD = "/v1.0/card/instances/callback"


class BadPayload(ValueError):
    """Not a DingTalk payload we understand (answered 400 over HTTP, logged in the stream)."""


def parse(topic: str, data: Any) -> Event:
    if topic == TOPIC_CARD:
        return parse_card_callback(data)
    if topic == TOPIC_ROBOT:
        return parse_robot_message(data)
    raise BadPayload(f"topic {topic!r} is not subscribed")


def parse_robot_message(data: Any) -> Event:
    if not isinstance(data, dict):
        raise BadPayload("message is not an object")
    userid, msg_id = _str(data, "senderStaffId"), _str(data, "msgId")
    if not userid or not msg_id:
        raise BadPayload("message without senderStaffId or msgId")
    common = {"platform": PLATFORM, "userid": userid, "account_id": userid, "dedup_key": f"dingtalk:msg:{msg_id}",
              "created_at": _created_at(data.get("createAt"))}
    if _str(data, "msgtype") == "text":
        text = data.get("text")
        content = text.get("content") if isinstance(text, dict) else None
        if not isinstance(content, str):
            raise BadPayload("text message without text.content")
        return Event(kind="text", text=content.strip(), **common)
    return Event(kind="other", **common)


def parse_card_callback(data: Any) -> Event:
    if not isinstance(data, dict):
        raise BadPayload("card callback is not an object")
    track, userid = _str(data, "outTrackId"), _str(data, "userId")
    if not track or not userid:
        raise BadPayload("card callback without outTrackId or userId")
    content = data.get("content")
    try:
        content = json.loads(content) if isinstance(content, str) else content
        params = content["cardPrivateData"]["params"]
        action = params["action"]
    except (ValueError, TypeError, KeyError):
        raise BadPayload("card callback without cardPrivateData.params.action") from None
    if not isinstance(action, str) or not action:
        raise BadPayload("card callback action is not text")
    return Event(platform=PLATFORM, userid=userid, account_id=userid, kind="button", button_key=action, reply_ref=track,
                 dedup_key=f"dingtalk:card:{track}:{userid}:{action}")


def _str(data: dict, key: str) -> str:
    value = data.get(key)
    return value if isinstance(value, str) else ""


def _created_at(ms: Any) -> datetime:
    try:
        return datetime.fromtimestamp(int(ms) / 1000, timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        return datetime.now(timezone.utc)
