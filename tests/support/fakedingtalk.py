"""A fake DingTalk for tests: the stream gateway and the v1.0 API, on one local server.

Usage::

    fake = FakeDingTalk(client_id="ding-app", client_secret="s3cret")
    await fake.start()                  # Settings(dingtalk_api_base=fake.base_url)
    await fake.wait_connected()
    ack = await fake.push(TOPIC_ROBOT, {...})   # a CALLBACK frame over the real WebSocket; returns the ACK
    fake.sent_messages()                # one row per person reached (PhoneView's shape)
    await fake.close()

Gateway, as the protocol says: ``POST /v1.0/gateway/connections/open`` checks the
credentials and hands a single-use ticket; ``GET /gateway?ticket=…`` upgrades. Every
frame pushed must be ACKed with its messageId (``fake.bad_acks`` lists any malformed
one); ``ping()`` checks the echo; ``disconnect()`` sends SYSTEM disconnect and drops
the socket. ``storm = True`` sends disconnect on every new connection and closes it.

API: ``accessToken`` (``token_calls``), ``oToMessages/batchSend`` (``sends``),
``card/instances/createAndDeliver`` (``cards`` by outTrackId) and ``PUT card/instances``
(``card_updates``). ``fail_next(path, status, code)`` scripts an error answer;
``expire_tokens()`` makes every issued token invalid.

oapi (the same server; ``access_token`` in the query): the 通讯录 (``fake.directory``,
tests/support/fakedirectory.py) and 免登: ``GET /dingtalk.open.js`` is the dd JS API as the
DingTalk client provides it, whose ``requestAuthCode`` (checked against ``corp_id`` and the
client id) hands a code for whoever is logged in (``fake.login_user``); ``topapi/v2/user/getuserinfo``
exchanges a code once, within 5 minutes (``exchanged`` lists who). 工作通知:
``topapi/message/corpconversation/asyncsend_v2`` (for ``agent_id`` only, ≤ 100 userids, comma-separated)
records ``work_notices`` by task_id (not in ``deliveries``); ``mark_read(*userids)`` makes those people
have read every one they got, as ``getsendresult``'s ``read_user_id_list`` then says.
"""
from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import time
from collections import deque
from typing import Any

from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestServer

from tests.support.fakedirectory import FakeDingTalkDirectory

TOKEN = "/v1.0/oauth2/accessToken"
BATCH_SEND = "/v1.0/robot/oToMessages/batchSend"
CARD_DELIVER = "/v1.0/card/instances/createAndDeliver"
CARD_UPDATE = "/v1.0/card/instances"
OPEN = "/v1.0/gateway/connections/open"
TOPIC_ROBOT = "/v1.0/im/bot/messages/get"
TOPIC_CARD = "/v1.0/card/instances/callback"
GETUSERINFO = "/topapi/v2/user/getuserinfo"
JSAPI = "/dingtalk.open.js"
WORK_NOTICE = "/topapi/message/corpconversation/asyncsend_v2"
SEND_RESULT = "/topapi/message/corpconversation/getsendresult"
AGENT_ID = "4000001"
CORP_ID = "dingfakecorp0001"
CODE_TTL = 300
MSG_KINDS = {"sampleText": "text", "sampleMarkdown": "markdown", "sampleActionCard": "actioncard"}


class FakeDingTalk:
    def __init__(self, client_id: str = "ding-app", client_secret: str = "ding-secret", robot_code: str = "") -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.robot_code = robot_code or client_id
        self.token_calls = 0
        self.tokens: set[str] = set()
        self.sends: list[dict] = []
        self.cards: dict[str, dict] = {}  # outTrackId → {userid, params, template}
        self.card_updates: list[dict] = []
        self.deliveries: list[dict] = []  # PhoneView rows in order
        self.opens: list[float] = []  # monotonic time of each connections/open
        self.connections: list[float] = []  # monotonic time of each WebSocket accepted
        self.subscriptions: list[list] = []
        self.bad_acks: list[Any] = []
        self.storm = False
        self.silent = False  # a dead peer: answers no WebSocket ping (the client's heartbeat must notice)
        self._tickets: set[str] = set()
        self._failures: dict[str, deque] = {}
        self._ws: web.WebSocketResponse | None = None
        self._connected = asyncio.Event()
        self._acks: dict[str, asyncio.Future] = {}
        self._ids = itertools.count(1)
        self._server: TestServer | None = None
        self.corp_id = CORP_ID
        self.directory = FakeDingTalkDirectory()
        self.login_user: str | None = None  # who is logged in to the DingTalk client
        self.codes: dict[str, tuple[str, float]] = {}  # 免登 code → (userid, issued at)
        self.exchanged: list[str] = []
        self.agent_id = AGENT_ID
        self.work_notices: dict[int, dict] = {}  # task_id → {userids, msg, read: set}
        self._tasks = itertools.count(700001)

    # ----- lifecycle ----------------------------------------------------------------
    async def start(self) -> str:
        app = web.Application()
        app.router.add_post(TOKEN, self._token)
        app.router.add_post(BATCH_SEND, self._batch_send)
        app.router.add_post(CARD_DELIVER, self._deliver)
        app.router.add_put(CARD_UPDATE, self._update)
        app.router.add_post(OPEN, self._open)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_post(GETUSERINFO, self._getuserinfo)
        app.router.add_get(JSAPI, self._jsapi)
        app.router.add_post(WORK_NOTICE, self._work_notice)
        app.router.add_post(SEND_RESULT, self._send_result)
        self.directory.add_routes(app, self._oapi_token)
        self._server = TestServer(app, host="127.0.0.1", port=0)
        await self._server.start_server()
        return self.base_url

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return str(self._server.make_url("")).rstrip("/")

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._server is not None:
            await self._server.close()

    # ----- scripting ----------------------------------------------------------------
    def fail_next(self, path: str, status: int, code: str = "") -> None:
        self._failures.setdefault(path, deque()).append((status, code))

    def expire_tokens(self) -> None:
        self.tokens.clear()

    async def wait_connected(self, timeout: float = 5.0) -> None:
        await asyncio.wait_for(self._connected.wait(), timeout)

    async def push(self, topic: str, data: dict, *, kind: str = "CALLBACK", timeout: float = 5.0) -> dict:
        """Send one frame over the live connection and wait for its ACK."""
        await self.wait_connected(timeout)
        message_id = f"msg-{next(self._ids)}"
        frame = {"specVersion": "1.0", "type": kind,
                 "headers": {"topic": topic, "messageId": message_id, "contentType": "application/json",
                             "time": str(int(time.time() * 1000)), "appId": self.client_id},
                 "data": json.dumps(data, ensure_ascii=False)}
        fut = asyncio.get_running_loop().create_future()
        self._acks[message_id] = fut
        assert self._ws is not None
        await self._ws.send_str(json.dumps(frame, ensure_ascii=False))
        return await asyncio.wait_for(fut, timeout)

    async def ping(self) -> dict:
        opaque = secrets.token_hex(8)
        ack = await self.push("ping", {"opaque": opaque}, kind="SYSTEM")
        assert json.loads(ack["data"]) == {"opaque": opaque}, ack
        return ack

    async def disconnect(self, reason: str = "rolling restart") -> dict:
        ws = self._ws
        ack = await self.push("disconnect", {"reason": reason}, kind="SYSTEM")
        self._connected.clear()
        if ws is not None:
            await ws.close()
        return ack

    # ----- what people got -----------------------------------------------------------
    def sent_messages(self) -> list[dict]:
        return list(self.deliveries)

    def card_of(self, out_track_id: str) -> dict:
        return self.cards[out_track_id]

    # ----- API handlers --------------------------------------------------------------
    def _scripted(self, path: str) -> web.Response | None:
        queue = self._failures.get(path)
        if queue:
            status, code = queue.popleft()
            return web.json_response({"code": code, "message": "scripted"}, status=status)
        return None

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("x-acs-dingtalk-access-token", "") in self.tokens

    async def _token(self, request: web.Request) -> web.Response:
        self.token_calls += 1
        body = await request.json()
        if body.get("appKey") != self.client_id or body.get("appSecret") != self.client_secret:
            return web.json_response({"code": "invalidClientIdOrSecret", "message": "bad"}, status=400)
        token = secrets.token_hex(8)
        self.tokens.add(token)
        return web.json_response({"accessToken": token, "expireIn": 7200})

    async def _batch_send(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"code": "InvalidAuthentication", "message": "token"}, status=401)
        if (scripted := self._scripted(BATCH_SEND)) is not None:
            return scripted
        body = await request.json()
        assert body["robotCode"] == self.robot_code and 1 <= len(body["userIds"]) <= 20, body
        param = json.loads(body["msgParam"])
        self.sends.append({**body, "msgParam": param})
        for userid in body["userIds"]:
            text = param.get("content") or param.get("text") or ""
            kind = MSG_KINDS.get(body["msgKey"], body["msgKey"])
            self.deliveries.append({"userid": userid, "msgtype": kind, "content": text, "card": None})
        return web.json_response({"processQueryKey": secrets.token_hex(6), "invalidStaffIdList": [],
                                  "flowControlledStaffIdList": []})

    async def _deliver(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"code": "InvalidAuthentication", "message": "token"}, status=401)
        if (scripted := self._scripted(CARD_DELIVER)) is not None:
            return scripted
        body = await request.json()
        space = body["openSpaceId"]
        assert space.startswith("dtv1.card//IM_ROBOT."), space
        assert body["imRobotOpenDeliverModel"]["robotCode"] == self.robot_code
        params = body["cardData"]["cardParamMap"]
        assert all(isinstance(v, str) for v in params.values()), params
        userid = space.removeprefix("dtv1.card//IM_ROBOT.")
        card = {"outTrackId": body["outTrackId"], "userid": userid, "template": body["cardTemplateId"],
                "params": dict(params), "delivered": dict(params), "callbackType": body["callbackType"]}
        self.cards[body["outTrackId"]] = card
        self.deliveries.append({"userid": userid, "msgtype": "card", "content": "", "card": card})
        return web.json_response({"success": True, "result": {"outTrackId": body["outTrackId"]}})

    async def _update(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"code": "InvalidAuthentication", "message": "token"}, status=401)
        body = await request.json()
        card = self.cards.get(body["outTrackId"])
        if card is None:
            return web.json_response({"code": "param.cardNotExist", "message": "no card"}, status=400)
        card["params"].update(body["cardData"]["cardParamMap"])
        self.card_updates.append(body)
        return web.json_response({"success": True})

    # ----- oapi: 免登 -----------------------------------------------------------------
    def _oapi_token(self, request: web.Request) -> web.Response | None:
        if request.query.get("access_token", "") in self.tokens:
            return None
        return web.json_response({"errcode": 40014, "errmsg": "不合法的access_token"})

    def issue_code(self, userid: str) -> str:
        """What ``requestAuthCode`` hands the page of someone logged in to DingTalk as ``userid``."""
        code = f"auth-{next(self._ids)}-{secrets.token_hex(6)}"
        self.codes[code] = (userid, time.time())
        return code

    async def _getuserinfo(self, request: web.Request) -> web.Response:
        if (bad := self._oapi_token(request)) is not None:
            return bad
        found = self.codes.pop(str((await request.json()).get("code", "")), None)  # a code works once
        if found is None or time.time() - found[1] > CODE_TTL:
            return web.json_response({"errcode": 40078, "errmsg": "不存在的临时授权码"})
        self.exchanged.append(found[0])
        return web.json_response({"errcode": 0, "errmsg": "ok", "result": {
            "userid": found[0], "name": found[0], "unionid": f"union-{found[0]}", "sys": False, "sys_level": 0}})

    # ----- oapi: 工作通知 and its read status ---------------------------------------------
    def mark_read(self, *userids: str) -> None:
        """These people opened every 工作通知 they were sent."""
        for notice in self.work_notices.values():
            notice["read"].update(u for u in userids if u in notice["userids"])

    async def _work_notice(self, request: web.Request) -> web.Response:
        if (bad := self._oapi_token(request)) is not None:
            return bad
        body = await request.json()
        userids = [u for u in str(body.get("userid_list", "")).split(",") if u]
        if str(body.get("agent_id")) != self.agent_id:
            return web.json_response({"errcode": 60011, "errmsg": "no privilege: agent_id"})
        if not 1 <= len(userids) <= 100 or body.get("msg", {}).get("msgtype") not in ("text", "markdown", "oa",
                                                                                        "action_card", "link"):
            return web.json_response({"errcode": 40035, "errmsg": "缺少参数 userid_list or msg"})
        task_id = next(self._tasks)
        self.work_notices[task_id] = {"userids": userids, "msg": body["msg"], "read": set()}
        return web.json_response({"errcode": 0, "errmsg": "ok", "task_id": task_id, "request_id": secrets.token_hex(6)})

    async def _send_result(self, request: web.Request) -> web.Response:
        if (bad := self._oapi_token(request)) is not None:
            return bad
        body = await request.json()
        notice = self.work_notices.get(int(body.get("task_id") or 0))
        if str(body.get("agent_id")) != self.agent_id or notice is None:
            return web.json_response({"errcode": 400001, "errmsg": "task not found"})
        read = [u for u in notice["userids"] if u in notice["read"]]
        unread = [u for u in notice["userids"] if u not in notice["read"]]
        return web.json_response({"errcode": 0, "errmsg": "ok", "request_id": secrets.token_hex(6), "send_result": {
            "read_user_id_list": read, "unread_user_id_list": unread, "invalid_user_id_list": [],
            "forbidden_user_id_list": [], "failed_user_id_list": [], "forbidden_list": []}})

    async def _jsapi(self, request: web.Request) -> web.Response:
        """The dd JS API in the DingTalk client: a code for whoever is logged in, for this corp and app only."""
        code = self.issue_code(self.login_user) if self.login_user else ""
        script = JSAPI_SCRIPT % {"corp": json.dumps(self.corp_id), "client": json.dumps(self.client_id),
                                 "code": json.dumps(code)}
        return web.Response(text=script, content_type="application/javascript")

    # ----- gateway -------------------------------------------------------------------
    async def _open(self, request: web.Request) -> web.Response:
        self.opens.append(time.monotonic())
        body = await request.json()
        if body.get("clientId") != self.client_id or body.get("clientSecret") != self.client_secret:
            return web.json_response({"code": "unauthorized", "message": "bad"}, status=401)
        self.subscriptions.append(body.get("subscriptions") or [])
        ticket = secrets.token_hex(8)
        self._tickets.add(ticket)
        return web.json_response({"endpoint": self.base_url.replace("http", "ws", 1) + "/gateway",
                                  "ticket": ticket})

    async def _gateway(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        if ticket not in self._tickets:
            return web.Response(status=401)
        self._tickets.discard(ticket)  # single use
        ws = web.WebSocketResponse(autoping=not self.silent)
        await ws.prepare(request)
        self.connections.append(time.monotonic())
        if self.storm:
            await ws.send_str(json.dumps({"specVersion": "1.0", "type": "SYSTEM",
                                          "headers": {"topic": "disconnect", "messageId": f"d-{next(self._ids)}"},
                                          "data": json.dumps({"reason": "storm"})}))
            await ws.close()
            return ws
        self._ws = ws
        self._connected.set()
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                self._ack(msg.data)
        if self._ws is ws:
            self._ws = None
            self._connected.clear()
        return ws

    def _ack(self, raw: str) -> None:
        try:
            ack = json.loads(raw)
            ok = (ack["code"] == 200 and ack["message"] == "OK" and isinstance(ack["data"], str)
                  and ack["headers"]["contentType"] == "application/json")
            message_id = ack["headers"]["messageId"]
        except (ValueError, KeyError, TypeError):
            self.bad_acks.append(raw)
            return
        if not ok:
            self.bad_acks.append(ack)
        fut = self._acks.pop(message_id, None)
        if fut is not None and not fut.done():
            fut.set_result(ack)


JSAPI_SCRIPT = """window.dd = (function () {
  var corp = %(corp)s, client = %(client)s, code = %(code)s;
  function request(opts, ok, no) {
    setTimeout(function () {
      if (opts.corpId !== corp || (opts.clientId !== undefined && opts.clientId !== client) || !code) {
        no({errorCode: "3", errorMessage: "no auth code"});
      } else { ok({code: code}); code = ""; }
    }, 0);
  }
  return {
    ready: function (f) { setTimeout(f, 0); },
    error: function () {},
    requestAuthCode: function (o) { request(o, o.success || function () {}, o.fail || function () {}); },
    runtime: {permission: {requestAuthCode: function (o) {
      request(o, o.onSuccess || function () {}, o.onFail || function () {}); }}}
  };
})();
"""
