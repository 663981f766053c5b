"""The outbox's view of DingTalk: robot one-to-one messages and interactive cards.

Text and markdown go through the robot batch send (≤ 20 users a call). A card with
buttons becomes one card instance per person from the imported template
(``card_template.json``), so each tap names its own card (``outTrackId``) and the
card can be changed in place after the decision. A card without buttons but with a
link is an ActionCard with one link button; one with neither is plain text.

DingTalk has no duplicate check like WeCom's, so ``dedup`` and ``variant`` change nothing here.
"""
from __future__ import annotations

import json

from bot.outbound import Card, OutboundMessage
from bot.platforms.base import PermanentSendError, SendResult, TransientSendError
from bot.platforms.dingtalk.client import (
    DingTalkAPIError, DingTalkClient, DingTalkQuotaExhausted, DingTalkTransientError,
)

MAX_BATCH = 20
TEXT_MAX = 3000  # characters; longer markdown may render blank
TITLE_MAX = 40
ELLIPSIS = "…"


# The semantic button styles (bot.outbound) as the card template's button colours.
BUTTON_COLORS = {"primary": "blue", "secondary": "gray", "danger": "red", "link": "gray"}


def out_track_id(card_id: str, userid: str) -> str:
    """One card instance per person: the outbox's card id (the same on a resend) plus the person."""
    return f"{card_id}.{userid}"


def card_params(card: Card) -> dict[str, str]:
    """The template's parameters, all strings; ``buttons`` lists what the card offers as ``[{text, action, color}]``."""
    lines = [card.description.strip()] if card.description.strip() else []
    lines += [f"**{k}**：{v}" for k, v in card.fields]
    buttons = [{"text": b.text, "action": b.key, "color": BUTTON_COLORS.get(b.style, "blue")} for b in card.buttons]
    return {
        "title": _clip(card.title, TITLE_MAX),
        "content": _clip("  \n".join(lines), TEXT_MAX),
        "buttons": json.dumps(buttons, ensure_ascii=False),
        "url": card.url,
        "url_text": card.url_text,
        "status": "",
    }


class DingTalkSender:
    """``PlatformSender`` for the DingTalk robot."""

    name = "dingtalk"
    max_batch = MAX_BATCH

    def __init__(self, client: DingTalkClient, card_template_id: str, callback_type: str = "STREAM") -> None:
        self._client = client
        self._template = card_template_id
        self._callback_type = callback_type

    async def send(self, userids: list[str], message: OutboundMessage, *, dedup: bool = True,
                   ref: str = "") -> SendResult:
        if len(userids) > MAX_BATCH:
            raise PermanentSendError(f"{len(userids)} recipients; at most {MAX_BATCH} per call")
        if not userids:
            return SendResult()
        try:
            return await self._send(userids, message)
        except DingTalkQuotaExhausted as exc:
            raise TransientSendError(f"monthly quota used up: {exc}") from exc
        except DingTalkTransientError as exc:
            raise TransientSendError(str(exc)) from exc
        except DingTalkAPIError as exc:
            raise PermanentSendError(str(exc)) from exc

    async def _send(self, userids: list[str], message: OutboundMessage) -> SendResult:
        if message.kind == "card_update":
            if not message.reply_ref:
                raise PermanentSendError("card_update without the card's outTrackId (reply_ref)")
            await self._client.update_card(message.reply_ref, update_params(message))
            return SendResult()
        if message.kind == "recall":  # each person's card of that send, set to 已撤回 in place
            for userid in userids:
                await self._client.update_card(out_track_id(message.reply_ref, userid), update_params(message))
            return SendResult()
        if message.kind == "card" and message.card is not None and message.card.buttons:
            if not message.card_id:
                raise PermanentSendError("card without card_id")
            params = card_params(message.card)
            for userid in userids:
                await self._client.deliver_card(template_id=self._template,
                                                out_track_id=out_track_id(message.card_id, userid),
                                                userid=userid, params=params, callback_type=self._callback_type)
            return SendResult(ref=message.card_id)
        key, param = robot_message(message)
        answer = await self._client.batch_send(userids, key, param)
        invalid = answer.get("invalidStaffIdList") or []
        return SendResult(invalid_users=[str(u) for u in invalid if u])


def update_params(message: OutboundMessage) -> dict[str, str]:
    """A decided card: its status line set, its buttons gone."""
    return {"status": message.replace_name, "buttons": "[]"}


def render(message: OutboundMessage) -> dict:
    """The wire form: a card instance's parameters, a card update's, or a robot message."""
    if message.kind == "card_update":
        return {"outTrackId": message.reply_ref, "cardData": {"cardParamMap": update_params(message)}}
    if message.kind == "card" and message.card is not None and message.card.buttons:
        return {"cardData": {"cardParamMap": card_params(message.card)}}
    key, param = robot_message(message)
    return {"msgKey": key, "msgParam": param}


def robot_message(message: OutboundMessage) -> tuple[str, dict]:
    """``msgKey`` and ``msgParam`` for the robot batch send."""
    if message.kind == "text":
        return "sampleText", {"content": _content(message.text)}
    if message.kind == "markdown":
        text = _content(message.text)
        return "sampleMarkdown", {"title": _clip(text.splitlines()[0].lstrip("# "), TITLE_MAX), "text": text}
    if message.kind == "card" and message.card is not None:
        card = message.card
        params = card_params(card)
        body = f"### {params['title']}\n\n{params['content']}" if params["content"] else f"### {params['title']}"
        if card.url:
            return "sampleActionCard", {"title": params["title"], "text": body,
                                        "singleTitle": card.url_text or params["title"], "singleURL": card.url}
        return "sampleMarkdown", {"title": params["title"], "text": body}
    raise PermanentSendError(f"{message.kind!r} cannot be sent as a DingTalk robot message")


def _content(text: str) -> str:
    if not text.strip():
        raise PermanentSendError("empty message text")
    return _clip(text, TEXT_MAX)


def _clip(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS
