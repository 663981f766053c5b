"""DingTalk's v1.0 open API over aiohttp: the access token, robot messages, interactive cards.

The token is cached and refreshed ``TOKEN_MARGIN`` seconds before it expires, and once
more when an answer says it is not valid. Flow control (HTTP 429, errcode 90002) and 5xx
are retried a bounded number of times with exponential backoff; the monthly quota
(90020) stops at once with an operator message, since retrying only burns more calls.
"""
from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from typing import Any

from aiohttp import ClientError, ClientSession

log = logging.getLogger(__name__)

TOKEN_PATH = "/v1.0/oauth2/accessToken"
BATCH_SEND_PATH = "/v1.0/robot/oToMessages/batchSend"
CARD_DELIVER_PATH = "/v1.0/card/instances/createAndDeliver"
CARD_UPDATE_PATH = "/v1.0/card/instances"
WORK_NOTICE_PATH = "/topapi/message/corpconversation/asyncsend_v2"
SEND_RESULT_PATH = "/topapi/message/corpconversation/getsendresult"
WORK_NOTICE_MAX = 100  # userids per 工作通知, so that its read status can be asked
TOKEN_HEADER = "x-acs-dingtalk-access-token"
TOKEN_MARGIN = 300  # seconds before expiry when a new token is fetched
MAX_ATTEMPTS = 4
FLOW_CONTROL = "90002"
SYSTEM_BUSY = "-1"  # oapi: 系统繁忙
MONTHLY_QUOTA = "90020"
AUTH_CODES = {"InvalidAuthentication", "40014", "42001", "88"}


class DingTalkAPIError(Exception):
    """A refusal that retrying will not change (bad request, unknown user, template missing)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"HTTP {status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


class DingTalkTransientError(Exception):
    """Still failing after the bounded retries (flow control, 5xx, network)."""


class DingTalkQuotaExhausted(DingTalkAPIError):
    """The organisation's monthly API quota is used up; nothing more goes out until it renews."""


class DingTalkClient:
    def __init__(self, session: ClientSession, *, api_base: str, client_id: str, client_secret: str,
                 robot_code: str, backoff_base: float = 0.5, oapi_base: str = "https://oapi.dingtalk.com") -> None:
        self._session = session
        self.api_base = api_base.rstrip("/")
        self.oapi_base = oapi_base.rstrip("/")
        self.client_id = client_id
        self._secret = client_secret
        self.robot_code = robot_code
        self.backoff_base = backoff_base
        self._token = ""
        self._token_expires = 0.0
        self._token_lock = asyncio.Lock()

    # ----- token ------------------------------------------------------------------
    async def token(self, *, force: bool = False) -> str:
        async with self._token_lock:
            if force or not self._token or time.monotonic() > self._token_expires - TOKEN_MARGIN:
                answer = await self._call("POST", TOKEN_PATH, {"appKey": self.client_id, "appSecret": self._secret},
                                          auth=False)
                token = answer.get("accessToken")
                if not isinstance(token, str) or not token:
                    raise DingTalkAPIError(200, "no-token", "accessToken missing from the answer")
                self._token = token
                self._token_expires = time.monotonic() + float(answer.get("expireIn") or 7200)
            return self._token

    # ----- sending ----------------------------------------------------------------
    async def batch_send(self, userids: list[str], msg_key: str, msg_param: dict) -> dict:
        """One robot message to ≤ 20 users (the caller batches)."""
        body = {"robotCode": self.robot_code, "userIds": userids, "msgKey": msg_key,
                "msgParam": json.dumps(msg_param, ensure_ascii=False)}
        return await self._call("POST", BATCH_SEND_PATH, body)

    async def deliver_card(self, *, template_id: str, out_track_id: str, userid: str, params: dict[str, str],
                           callback_type: str = "STREAM") -> dict:
        """An interactive card in the robot's one-to-one chat with ``userid``."""
        body = {
            "cardTemplateId": template_id,
            "outTrackId": out_track_id,
            "callbackType": callback_type,
            "cardData": {"cardParamMap": params},
            "openSpaceId": f"dtv1.card//IM_ROBOT.{userid}",
            "imRobotOpenSpaceModel": {"supportForward": False},
            "imRobotOpenDeliverModel": {"spaceType": "IM_ROBOT", "robotCode": self.robot_code},
            "userIdType": 1,
        }
        return await self._call("POST", CARD_DELIVER_PATH, body)

    async def update_card(self, out_track_id: str, params: dict[str, str]) -> dict:
        """Change some of a delivered card's parameters in place (e.g. status, no more buttons)."""
        body = {"outTrackId": out_track_id, "cardData": {"cardParamMap": params},
                "cardUpdateOptions": {"updateCardDataByKey": True}}
        return await self._call("PUT", CARD_UPDATE_PATH, body)

    async def work_notice(self, agent_id: str, userids: list[str], text: str) -> str:
        """A 工作通知 (text) to ≤ 100 users → its ``task_id``, the handle for :meth:`send_result`."""
        body = {"agent_id": _agent(agent_id), "userid_list": ",".join(userids),
                "msg": {"msgtype": "text", "text": {"content": text}}}
        return str((await self.oapi(WORK_NOTICE_PATH, body)).get("task_id") or "")

    async def send_result(self, agent_id: str, task_id: str) -> dict:
        """A 工作通知's ``send_result`` (``read_user_id_list``, ``unread_user_id_list``, …; last 24 h)."""
        answer = await self.oapi(SEND_RESULT_PATH, {"agent_id": _agent(agent_id), "task_id": _agent(task_id)})
        result = answer.get("send_result")
        return result if isinstance(result, dict) else {}

    async def oapi(self, path: str, body: dict) -> dict:
        """A ``topapi`` call on the oapi host (directory, 免登): the same token, in the query."""
        return await self._call("POST", path, body, oapi=True)

    # ----- the call ---------------------------------------------------------------
    async def _call(self, method: str, path: str, body: dict, *, auth: bool = True, oapi: bool = False) -> dict:
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            token = await self.token(force=False) if auth else ""
            headers = {TOKEN_HEADER: token} if auth and not oapi else {}
            params = {"access_token": token} if oapi else None
            url = (self.oapi_base if oapi else self.api_base) + path
            try:
                async with self._session.request(method, url, json=body, headers=headers, params=params) as resp:
                    status = resp.status
                    try:
                        answer: Any = await resp.json(content_type=None)
                    except (ValueError, ClientError):
                        answer = {}
            except (ClientError, asyncio.TimeoutError) as exc:
                if attempt >= MAX_ATTEMPTS:
                    raise DingTalkTransientError(f"{path}: {type(exc).__name__}") from exc
                await self._sleep(attempt)
                continue
            answer = answer if isinstance(answer, dict) else {}
            code = str(answer.get("code") or answer.get("errcode") or "")
            if status == 200 and code in ("", "0"):
                return answer
            message = str(answer.get("message") or answer.get("errmsg") or "")
            if auth and not refreshed and (status == 401 or code in AUTH_CODES):
                refreshed = True
                await self.token(force=True)
                continue
            if code == MONTHLY_QUOTA or "quota" in code.lower():
                log.error("DingTalk: the organisation's monthly API quota is used up (%s). Nothing is sent "
                          "until it renews or the plan is raised; the outbox keeps the messages.", code)
                raise DingTalkQuotaExhausted(status, code, message)
            if status == 429 or status >= 500 or code in (FLOW_CONTROL, SYSTEM_BUSY) or "qpslimit" in code.lower():
                if attempt >= MAX_ATTEMPTS:
                    raise DingTalkTransientError(f"{path}: HTTP {status} {code}")
                await self._sleep(attempt)
                continue
            raise DingTalkAPIError(status, code, message)

    async def _sleep(self, attempt: int) -> None:
        delay = self.backoff_base * (2 ** (attempt - 1))
        await asyncio.sleep(delay * (0.5 + random.random() / 2))


def _agent(value: str) -> int | str:
    """oapi takes agent_id and task_id as numbers."""
    return int(value) if value.isdigit() else value
