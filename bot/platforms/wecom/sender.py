"""The outbox's view of WeCom: one message to ≤1000 users per call.

Every send asks for WeCom's duplicate check (``enable_duplicate_check: 1``,
``duplicate_check_interval`` = 4 h, WeCom's maximum): WeCom then drops a
request whose JSON is identical to one it delivered within the interval. The
outbox makes a resend identical and a deliberate repeat different (its
``variant``, written here as an invisible zero-width suffix).
"""
from __future__ import annotations

from bot.outbound import OutboundMessage
from bot.platforms.base import PermanentSendError, SendResult
from bot.platforms.wecom.cards import TEXT_MAX_BYTES, CardError, render, truncate_utf8
from bot.platforms.wecom.client import DUPLICATE_CHECK_INTERVAL, WeComAPIError, WeComClient

MAX_BATCH = 1000
_ZERO, _ONE = "\u200b", "\u200c"  # zero-width space / non-joiner: invisible in WeCom's clients


def repeat_marker(variant: int) -> str:
    """An invisible suffix, distinct per variant ("" for 0): the binary digits of ``variant``."""
    return "".join(_ONE if bit == "1" else _ZERO for bit in bin(variant)[2:]) if variant > 0 else ""


class BatchTooLargeError(PermanentSendError, ValueError):
    """More recipients than one WeCom call takes; batching is the outbox's job."""


class WeComSender:
    """``PlatformSender`` for WeCom app messages."""

    name = "wecom"
    max_batch = MAX_BATCH

    def __init__(self, client: WeComClient) -> None:
        self._client = client

    async def send(self, userids: list[str], message: OutboundMessage, *, dedup: bool = True,
                   ref: str = "") -> SendResult:
        if len(userids) > MAX_BATCH:
            raise BatchTooLargeError(f"{len(userids)} recipients; at most {MAX_BATCH} per call")
        if not userids:
            return SendResult()
        for userid in userids:
            if not userid or "|" in userid:
                raise PermanentSendError(f"invalid WeCom userid {userid!r}")

        if message.kind == "card_update":
            if not message.reply_ref:  # WeCom's reply reference is the click's ResponseCode
                raise PermanentSendError("card_update without reply_ref")
            answer = await self._client.update_template_card(
                userids, message.reply_ref, message.replace_name
            )
            return SendResult(invalid_users=_invalid_users(answer))
        if message.kind == "recall":
            return await self._recall(userids, message)

        try:
            body = render(message)
        except CardError as exc:
            raise PermanentSendError(f"cannot render for WeCom: {exc}") from exc
        _mark_repeat(body, message.variant)
        payload = {"touser": "|".join(userids), "agentid": self._client.agent_id, **body}
        if dedup:
            # From the first attempt: a resend after a crash is then dropped for whoever already got it.
            payload["enable_duplicate_check"] = 1
            payload["duplicate_check_interval"] = DUPLICATE_CHECK_INTERVAL
        answer = await self._client.send_message(payload)
        return SendResult(invalid_users=_invalid_users(answer),
                          ref=f"{answer.get('msgid', '')}|{answer.get('response_code', '')}")

    async def _recall(self, userids: list[str], message: OutboundMessage) -> SendResult:
        """Recall the message (WeCom allows it for 24 hours); past that, grey its card's button to
        ``replace_name`` with the response_code its send returned (72 hours, once)."""
        msgid, _, response_code = message.reply_ref.partition("|")
        if not msgid and not response_code:
            raise PermanentSendError("recall without a reference")
        try:
            if not msgid:
                raise WeComAPIError(-1, "no msgid to recall")
            await self._client.recall(msgid)
            return SendResult()
        except WeComAPIError:
            if not response_code:
                raise
        answer = await self._client.update_template_card(userids, response_code, message.replace_name)
        return SendResult(invalid_users=_invalid_users(answer))


def _mark_repeat(body: dict, variant: int) -> None:
    """Make a deliberate repeat's text differ from the earlier identical one (cards differ by task_id)."""
    marker = repeat_marker(variant)
    part = body.get(body.get("msgtype", ""))
    if marker and body.get("msgtype") in ("text", "markdown") and isinstance(part, dict):
        room = TEXT_MAX_BYTES - len(marker.encode("utf-8"))
        part["content"] = truncate_utf8(part["content"], room) + marker


def _invalid_users(answer: dict) -> list[str]:
    """``invaliduser`` is "a|b" in message/send and may be a list elsewhere."""
    raw = answer.get("invaliduser") or ""
    items = raw if isinstance(raw, list) else str(raw).split("|")
    return [str(u) for u in items if str(u)]
