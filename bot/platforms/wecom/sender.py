"""The outbox's view of WeCom: one message to ≤1000 users per call."""
from __future__ import annotations

from bot.outbound import OutboundMessage
from bot.platforms.base import PermanentSendError, SendResult
from bot.platforms.wecom.cards import CardError, render
from bot.platforms.wecom.client import WeComClient

MAX_BATCH = 1000
DUPLICATE_CHECK_INTERVAL = 1800


class BatchTooLargeError(PermanentSendError, ValueError):
    """More recipients than one WeCom call takes; batching is the outbox's job."""


class WeComSender:
    """``PlatformSender`` for WeCom app messages."""

    name = "wecom"
    max_batch = MAX_BATCH

    def __init__(self, client: WeComClient) -> None:
        self._client = client

    async def send(self, userids: list[str], message: OutboundMessage, *, dedup: bool) -> SendResult:
        if len(userids) > MAX_BATCH:
            raise BatchTooLargeError(f"{len(userids)} recipients; at most {MAX_BATCH} per call")
        if not userids:
            return SendResult()
        for userid in userids:
            if not userid or "|" in userid:
                raise PermanentSendError(f"invalid WeCom userid {userid!r}")

        if message.kind == "card_update":
            if not message.response_code:
                raise PermanentSendError("card_update without response_code")
            answer = await self._client.update_template_card(
                userids, message.response_code, message.replace_name
            )
            return SendResult(invalid_users=_invalid_users(answer))

        try:
            body = render(message)
        except CardError as exc:
            raise PermanentSendError(f"cannot render for WeCom: {exc}") from exc
        payload = {"touser": "|".join(userids), "agentid": self._client.agent_id, **body}
        if dedup:
            # Resending after a crash: WeCom drops it for whoever already got it.
            payload["enable_duplicate_check"] = 1
            payload["duplicate_check_interval"] = DUPLICATE_CHECK_INTERVAL
        answer = await self._client.send_message(payload)
        return SendResult(invalid_users=_invalid_users(answer))


def _invalid_users(answer: dict) -> list[str]:
    """``invaliduser`` is "a|b" in message/send and may be a list elsewhere."""
    raw = answer.get("invaliduser") or ""
    items = raw if isinstance(raw, list) else str(raw).split("|")
    return [str(u) for u in items if str(u)]
