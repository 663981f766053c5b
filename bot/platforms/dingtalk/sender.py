"""The outbox's view of DingTalk: robot one-to-one messages and interactive cards.

Text and markdown go through the robot batch send (≤ 20 users a call). A card with
buttons becomes one card instance per person from the imported template
(``card_template.json``), so each tap names its own card (``outTrackId``) and the
card can be changed in place after the decision. A card without buttons but with a
link is an ActionCard with one link button; one with neither is plain text.

A message with a ``read_receipt`` also goes out as a short 工作通知 (when an agent id is set);
its ``task_id`` joins the send's ref (``<card id>|read:<task id>``, see :func:`split_ref`), the
handle :meth:`DingTalkPlatform.read_status` asks ``getsendresult`` with.

DingTalk has no duplicate check like WeCom's, so ``dedup`` and ``variant`` change nothing here.
"""
from __future__ import annotations

import json
import logging

from bot.outbound import Card, OutboundMessage
from bot.platforms.base import PermanentSendError, SendResult, TransientSendError
from bot.platforms.dingtalk.client import (
    DingTalkAPIError, DingTalkClient, DingTalkQuotaExhausted, DingTalkTransientError,
)

log = logging.getLogger(__name__)

MAX_BATCH = 20
READ_MARK = "|read:"  # between a send's card id and its 工作通知's task_id in SendResult.ref
TEXT_MAX = 3000  # characters; longer markdown may render blank
TITLE_MAX = 40
ELLIPSIS = "…"


# The semantic button styles (bot.outbound) as the card template's button colours.
BUTTON_COLORS = {"primary": "blue", "secondary": "gray", "danger": "red", "link": "gray"}


def out_track_id(card_id: str, userid: str) -> str:
    """One card instance per person: the outbox's card id (the same on a resend) plus the person."""
    return f"{card_id}.{userid}"


def split_ref(ref: str) -> tuple[str, str]:
    """A send's ref → (card id, 工作通知 task id); either may be empty."""
    card, _, task = ref.partition(READ_MARK)
    return card, task


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

    def __init__(self, client: DingTalkClient, card_template_id: str, callback_type: str = "STREAM",
                 agent_id: str = "") -> None:
        self._client = client
        self._agent_id = agent_id
        self._template = card_template_id
        self._callback_type = callback_type

    async def send(self, userids: list[str], message: OutboundMessage, *, dedup: bool = True,
                   ref: str = "") -> SendResult:
        if len(userids) > MAX_BATCH:
            raise PermanentSendError(f"{len(userids)} recipients; at most {MAX_BATCH} per call")
        if not userids:
            return SendResult()
        try:
            result = await self._send(userids, message)
        except DingTalkQuotaExhausted as exc:
            raise TransientSendError(f"monthly quota used up: {exc}") from exc
        except DingTalkTransientError as exc:
            raise TransientSendError(str(exc)) from exc
        except DingTalkAPIError as exc:
            raise PermanentSendError(str(exc)) from exc
        if message.read_receipt and self._agent_id and message.kind in ("card", "text", "markdown"):
            task = await self._work_notice([u for u in userids if u not in result.invalid_users], message.read_receipt)
            if task:
                result.ref = f"{result.ref}{READ_MARK}{task}"
        return result

    async def _work_notice(self, userids: list[str], text: str) -> str:
        """The 工作通知 beside the message: its task id, or "" (logged) — the message itself is out, so
        a failure here costs only the 已读 figure, never a resend."""
        if not userids:
            return ""
        try:
            return await self._client.work_notice(self._agent_id, userids, _clip(text, TEXT_MAX))
        except (DingTalkAPIError, DingTalkTransientError) as exc:
            log.warning("dingtalk work notification not sent, no read status for it: %s", exc)
            return ""

    async def _send(self, userids: list[str], message: OutboundMessage) -> SendResult:
        if message.kind == "card_update":
            if not message.reply_ref:
                raise PermanentSendError("card_update without the card's outTrackId (reply_ref)")
            await self._client.update_card(message.reply_ref, update_params(message))
            return SendResult()
        if message.kind == "recall":  # each person's card of that send, set to 已撤回 in place
            card_id = split_ref(message.reply_ref)[0]
            for userid in userids if card_id else []:
                await self._client.update_card(out_track_id(card_id, userid), update_params(message))
            return SendResult()
        if message.kind == "card" and message.card is not None and message.card.buttons:
            if not message.card_id:
                raise PermanentSendError("card without card_id")
            params = card_params(message.card)
            refs = {}
            for userid in userids:
                refs[userid] = out_track_id(message.card_id, userid)
                await self._client.deliver_card(template_id=self._template, out_track_id=refs[userid],
                                                userid=userid, params=params, callback_type=self._callback_type)
            return SendResult(ref=message.card_id, card_refs=refs)
        key, param = robot_message(message)
        answer = await self._client.batch_send(userids, key, param)
        invalid = answer.get("invalidStaffIdList") or []
        return SendResult(invalid_users=[str(u) for u in invalid if u])


def update_params(message: OutboundMessage) -> dict[str, str]:
    """A decided card: its status line set (who and when, when known), its buttons gone."""
    return {"status": message.text.strip() or message.replace_name, "buttons": "[]"}


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
