"""A fake WeCom server API for tests (gettoken, message/send, update_template_card, media).

Usage::

    fake = FakeWeCom()
    base = await fake.start()          # put into Settings(wecom_api_base=base)
    ...
    fake.sent_messages()               # one dict per delivered (userid, message)
    await fake.close()

OAuth (pages opened inside WeCom): this server is the authorize host too;
``fake.oauth.user = "zhoujs"`` says who is logged in to the WeCom client (see :class:`FakeOAuth`).

Scripting: ``fake.queue(SEND, 45009, 45009)`` makes the next two message/send
calls answer errcode 45009; ``fake.queue(SEND, http(502))`` answers HTTP 502.
``fake.expire_tokens()`` makes every issued token answer 42001;
``fake.invalid_users`` lists userids reported back as ``invaliduser``.
Duplicate check, as WeCom documents it: with ``enable_duplicate_check`` on, a
request whose whole JSON body is identical to one delivered inside
``duplicate_check_interval`` (default 1800 s) is not delivered again to that
person (``fake.duplicates`` records each such drop). Tests count what people
got through this model: ``fake.delivery_counts()`` (per person) and
``fake.doubled()`` (the same words delivered to one person more than once).
"""
from __future__ import annotations

import itertools
import json
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

import secrets
from urllib.parse import urlencode

from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.support.fakedirectory import FakeWeComDirectory

GETTOKEN = "/cgi-bin/gettoken"
SEND = "/cgi-bin/message/send"
UPDATE_CARD = "/cgi-bin/message/update_template_card"
RECALL = "/cgi-bin/message/recall"
RECALL_WINDOW = 24 * 3600  # WeCom recalls a message for 24 hours after it was sent
MEDIA_GET = "/cgi-bin/media/get"
MEDIA_UPLOAD = "/cgi-bin/media/upload"

CORP_ID = "wwfakecorp0000001"
SECRET = "fake-secret"
_ROUTING_KEYS = {"touser", "toparty", "totag", "agentid", "enable_duplicate_check", "duplicate_check_interval",
                 "safe", "enable_id_trans"}


@dataclass(frozen=True)
class http:  # noqa: N801 - reads well in fake.queue(SEND, http(502))
    """A scripted HTTP status answer."""

    status: int


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, str]
    json: Any = None
    form: dict[str, Any] | None = None


@dataclass
class Delivery:
    userid: str
    message: dict  # the message body without routing keys (msgtype + its part)
    msgid: str
    at: float = field(default_factory=time.time)


class FakeWeCom:
    def __init__(self, corp_id: str = CORP_ID, secret: str = SECRET, *, token_ttl: int = 7200) -> None:
        self.corp_id = corp_id
        self.secret = secret
        self.token_ttl = token_ttl
        self.calls: list[Call] = []
        self.deliveries: list[Delivery] = []
        self.duplicates: list[Delivery] = []  # dropped by the duplicate check
        self.send_hook = None  # async callable(body) awaited after a send is delivered, before answering
        self._checked: dict[tuple[str, str], float] = {}  # (userid, request JSON) -> when delivered
        self.card_updates: list[dict] = []
        self.recalled: list[str] = []  # msgids taken back (sent_messages still lists what was delivered)
        self.uploads: list[dict] = []
        self.invalid_users: set[str] = set()
        self.token_issues = 0
        self.media: dict[str, tuple[bytes, str, str]] = {}
        self._tokens: dict[str, float] = {}  # token -> expiry (epoch seconds)
        self._scripts: dict[str, deque] = {}
        self._ids = itertools.count(1)
        self._used_codes: set[str] = set()
        self._server: TestServer | None = None
        self.base_url = ""  # set by start()
        self.directory = FakeWeComDirectory()

    # -- lifecycle ------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 << 20)
        app.router.add_get(GETTOKEN, self._gettoken)
        app.router.add_post(SEND, self._send)
        app.router.add_post(UPDATE_CARD, self._update_card)
        app.router.add_post(RECALL, self._recall)
        app.router.add_get(MEDIA_GET, self._media_get)
        app.router.add_post(MEDIA_UPLOAD, self._media_upload)
        self.oauth = FakeOAuth(self)  # the authorize host too (CAMPUSBOT_WECOM_OAUTH_BASE)
        self.oauth.add_routes(app)
        self.directory.add_routes(app, self._check_token)  # the 通讯录 (tests/support/fakedirectory.py)
        return app

    async def start(self) -> str:
        """Serve on a free local port; returns the base URL for ``wecom_api_base``."""
        self._server = TestServer(self.app())
        await self._server.start_server()
        self.base_url = str(self._server.make_url("")).rstrip("/")
        return self.base_url

    async def close(self) -> None:
        if self._server is not None:
            await self._server.close()
            self._server = None

    # -- scripting --------------------------------------------------------------

    def queue(self, path: str, *answers: int | http) -> None:
        """Answer the next calls to ``path`` with these errcodes / HTTP statuses, in order."""
        self._scripts.setdefault(path, deque()).extend(answers)

    def expire_tokens(self) -> None:
        """Every token issued so far now answers 42001."""
        for token in self._tokens:
            self._tokens[token] = 0.0

    def add_media(self, media_id: str, data: bytes, filename: str = "photo.jpg",
                  content_type: str = "image/jpeg") -> None:
        self.media[media_id] = (data, filename, content_type)

    # -- inspection ---------------------------------------------------------------

    def calls_to(self, path: str) -> list[Call]:
        return [c for c in self.calls if c.path == path]

    def sent_messages(self) -> list[dict]:
        """Delivered messages flattened to one row per recipient.

        Each row: ``userid``, ``msgtype``, ``content`` (visible text/markdown content, or the
        template card's main title), ``card`` (the template_card dict or None), ``body``.
        """
        rows = []
        for d in self.deliveries:
            msgtype = d.message.get("msgtype", "")
            part = d.message.get(msgtype) or {}
            card = part if msgtype == "template_card" else None
            content = part.get("content", "") if card is None else card.get("main_title", {}).get("title", "")
            content = visible(content)
            rows.append({"userid": d.userid, "msgtype": msgtype, "content": content, "card": card,
                         "body": d.message, "msgid": d.msgid})
        return rows

    def delivery_counts(self, match=None) -> Counter:
        """Deliveries per person, optionally only rows (as in ``sent_messages``) for which ``match`` is true."""
        return Counter(m["userid"] for m in self.sent_messages() if match is None or match(m))

    def doubled(self) -> dict[str, int]:
        """People who got the same visible message more than once: {userid: extra copies}.

        Compares what a person sees (text with zero-width characters removed, or the
        card without its task_id), so a deliberate repeat counts too: use it where
        no repeat is expected.
        """
        seen = Counter()
        for m in self.sent_messages():
            body = dict(m["body"])
            part = dict(body.get(m["msgtype"]) or {})
            part.pop("task_id", None)
            if "content" in part:
                part["content"] = visible(part["content"])
            seen[(m["userid"], json.dumps(part, sort_keys=True, ensure_ascii=False))] += 1
        extra: Counter = Counter()
        for (userid, _), n in seen.items():
            if n > 1:
                extra[userid] += n - 1
        return dict(extra)

    # -- handlers ------------------------------------------------------------------

    async def _record(self, request: web.Request) -> Call:
        body: Any = None
        form = None
        if request.content_type.startswith("multipart/"):
            form = {}
            reader = await request.multipart()
            async for part in reader:
                form[part.name] = {"filename": part.filename, "data": await part.read(decode=False),
                                   "content_type": part.headers.get("Content-Type", "")}
        elif request.can_read_body:
            raw = await request.read()
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw
        call = Call(request.method, request.path, dict(request.query), body, form)
        self.calls.append(call)
        return call

    def _scripted(self, path: str) -> web.Response | None:
        script = self._scripts.get(path)
        if not script:
            return None
        answer = script.popleft()
        if isinstance(answer, http):
            return web.Response(status=answer.status, text="scripted failure")
        return web.json_response({"errcode": answer, "errmsg": f"scripted errcode {answer}"})

    def _check_token(self, request: web.Request) -> web.Response | None:
        token = request.query.get("access_token", "")
        expiry = self._tokens.get(token)
        if expiry is None:
            return _err(40014, "invalid access_token")
        if expiry < time.time():
            return _err(42001, "access_token expired")
        return None

    async def _gettoken(self, request: web.Request) -> web.Response:
        await self._record(request)
        if (scripted := self._scripted(GETTOKEN)) is not None:
            return scripted
        if request.query.get("corpid") != self.corp_id:
            return _err(40013, "invalid corpid")
        if request.query.get("corpsecret") != self.secret:
            return _err(40001, "invalid credential")
        self.token_issues += 1
        token = f"token-{self.token_issues}"
        self._tokens[token] = time.time() + self.token_ttl
        return web.json_response({"errcode": 0, "errmsg": "ok", "access_token": token,
                                  "expires_in": self.token_ttl})

    async def _send(self, request: web.Request) -> web.Response:
        call = await self._record(request)
        if (scripted := self._scripted(SEND)) is not None:
            return scripted
        if (bad := self._check_token(request)) is not None:
            return bad
        body = call.json
        if not isinstance(body, dict) or not body.get("msgtype") or body.get("agentid") in (None, ""):
            return _err(40058, "invalid parameter")
        msgtype = body["msgtype"]
        part = body.get(msgtype)
        if not isinstance(part, dict):
            return _err(40058, f"missing {msgtype}")
        if msgtype in ("text", "markdown"):
            content = part.get("content", "")
            if not content:
                return _err(44004, "empty content")
            if len(content.encode("utf-8")) > 2048:
                return _err(40058, "content exceeds 2048 bytes")
        users = [u for u in str(body.get("touser", "")).split("|") if u]
        if len(users) > 1000:
            return _err(40058, "touser exceeds 1000")
        invalid = [u for u in users if u in self.invalid_users]
        valid = [u for u in users if u not in self.invalid_users]
        if not valid:
            return web.json_response({"errcode": 81013, "errmsg": "user & party & tag all invalid",
                                      "invaliduser": "|".join(invalid)})
        message = {k: v for k, v in body.items() if k not in _ROUTING_KEYS}
        msgid = f"msg-{next(self._ids)}"
        now = time.time()
        interval = int(body.get("duplicate_check_interval") or 1800)
        request = json.dumps(body, sort_keys=True, ensure_ascii=False)
        for userid in valid:
            delivery = Delivery(userid, message, msgid, now)
            if body.get("enable_duplicate_check"):
                earlier = self._checked.get((userid, request))
                if earlier is not None and now - earlier <= interval:
                    self.duplicates.append(delivery)
                    continue
                self._checked[(userid, request)] = now
            self.deliveries.append(delivery)
        if self.send_hook is not None:
            await self.send_hook(body)
        answer = {"errcode": 0, "errmsg": "ok", "invaliduser": "|".join(invalid), "msgid": msgid}
        if msgtype == "template_card":
            answer["response_code"] = f"rc-{next(self._ids)}"
        return web.json_response(answer)

    async def _update_card(self, request: web.Request) -> web.Response:
        call = await self._record(request)
        if (scripted := self._scripted(UPDATE_CARD)) is not None:
            return scripted
        if (bad := self._check_token(request)) is not None:
            return bad
        body = call.json
        if not isinstance(body, dict) or not body.get("response_code") or body.get("agentid") in (None, ""):
            return _err(40058, "invalid parameter")
        code = body["response_code"]
        if code in self._used_codes:
            return _err(40058, "response_code already used")
        self._used_codes.add(code)
        self.card_updates.append(body)
        return web.json_response({"errcode": 0, "errmsg": "ok", "invaliduser": []})

    async def _recall(self, request: web.Request) -> web.Response:
        """message/recall {msgid}: a message of the last 24 hours disappears from its recipients' chats.
        (The errcodes for an unknown or too old msgid are this fake's choice; WeCom answers non-zero.)"""
        call = await self._record(request)
        if (scripted := self._scripted(RECALL)) is not None:
            return scripted
        if (bad := self._check_token(request)) is not None:
            return bad
        msgid = call.json.get("msgid", "") if isinstance(call.json, dict) else ""
        sent = [d for d in self.deliveries if d.msgid == msgid]
        if not sent or msgid in self.recalled:
            return _err(40058, "invalid msgid")
        if time.time() - sent[0].at > RECALL_WINDOW:
            return _err(40058, "message older than 24 hours")
        self.recalled.append(msgid)
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    async def _media_get(self, request: web.Request) -> web.StreamResponse:
        await self._record(request)
        if (scripted := self._scripted(MEDIA_GET)) is not None:
            return scripted
        if (bad := self._check_token(request)) is not None:
            return bad
        media = self.media.get(request.query.get("media_id", ""))
        if media is None:
            return _err(40007, "invalid media_id")
        data, filename, content_type = media
        return web.Response(body=data, content_type=content_type,
                            headers={"Content-Disposition": f'attachment; filename="{filename}"'})

    async def _media_upload(self, request: web.Request) -> web.Response:
        call = await self._record(request)
        if (scripted := self._scripted(MEDIA_UPLOAD)) is not None:
            return scripted
        if (bad := self._check_token(request)) is not None:
            return bad
        kind = request.query.get("type", "")
        part = (call.form or {}).get("media")
        if kind not in ("image", "voice", "video", "file") or part is None:
            return _err(40058, "invalid parameter")
        if len(part["data"]) <= 5:
            return _err(40006, "invalid file size")
        media_id = f"media-{next(self._ids)}"
        self.media[media_id] = (part["data"], part["filename"] or "", part["content_type"])
        self.uploads.append({"media_id": media_id, "type": kind, "filename": part["filename"],
                             "data": part["data"]})
        return web.json_response({"errcode": 0, "errmsg": "ok", "type": kind, "media_id": media_id,
                                  "created_at": str(int(time.time()))})


def visible(text: str) -> str:
    """What a phone shows: without the zero-width characters that mark a deliberate repeat."""
    return text.replace("\u200b", "").replace("\u200c", "")


def _err(errcode: int, errmsg: str) -> web.Response:
    return web.json_response({"errcode": errcode, "errmsg": errmsg})


# -- OAuth inside WeCom (snsapi_base) -----------------------------------------------------------

AUTHORIZE = "/connect/oauth2/authorize"
SSO_LOGIN = "/wwlogin/sso/login"  # 扫码登录 on a PC browser (login_type=CorpApp)
GETUSERINFO = "/cgi-bin/auth/getuserinfo"


class FakeOAuth:
    """WeCom's authorize page and ``auth/getuserinfo``, as documented.

    The authorize page identifies whoever is logged in to the WeCom client (``user``, chosen by the
    test); the 扫码登录 page (``wwlogin/sso/login``) stands for that person scanning its QR code with
    their WeCom app. Both redirect to ``redirect_uri`` with ``code`` and the untouched ``state``. A code works
    once, for ``code_ttl`` seconds (5 minutes); otherwise getuserinfo answers errcode 40029.
    """

    def __init__(self, fake: FakeWeCom, *, code_ttl: float = 300) -> None:
        self.fake = fake
        self.user: str | None = None
        self.code_ttl = code_ttl
        self.codes: dict[str, tuple[str, float]] = {}  # code -> (userid, issued at)
        self.exchanged: list[str] = []  # userids handed out by getuserinfo, in order

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get(AUTHORIZE, self._authorize)
        app.router.add_get(SSO_LOGIN, self._sso_login)
        app.router.add_get(GETUSERINFO, self._getuserinfo)

    def authorize_calls(self) -> list[Call]:
        return self.fake.calls_to(AUTHORIZE)

    async def _authorize(self, request: web.Request) -> web.Response:
        call = await self.fake._record(request)
        q = call.query
        if q.get("appid") != self.fake.corp_id or q.get("response_type") != "code" \
                or q.get("scope") != "snsapi_base" or not q.get("redirect_uri", "").startswith(("http://", "https://")):
            return web.Response(status=400, text="invalid authorize request")
        if self.user is None:
            return web.Response(status=403, text="not logged in to WeCom")
        code = f"code-{next(self.fake._ids)}-{secrets.token_hex(8)}"
        self.codes[code] = (self.user, time.time())
        sep = "&" if "?" in q["redirect_uri"] else "?"
        target = q["redirect_uri"] + sep + urlencode({"code": code, "state": q.get("state", "")})
        return web.Response(status=302, headers={"Location": target})

    def sso_calls(self) -> list[Call]:
        return self.fake.calls_to(SSO_LOGIN)

    async def _sso_login(self, request: web.Request) -> web.Response:
        """The QR page: ``login_type=CorpApp``, ``appid`` the corp id, ``agentid``, ``redirect_uri``, ``state``."""
        call = await self.fake._record(request)
        q = call.query
        if q.get("login_type") != "CorpApp" or q.get("appid") != self.fake.corp_id or not q.get("agentid") \
                or not q.get("redirect_uri", "").startswith(("http://", "https://")):
            return web.Response(status=400, text="invalid sso login request")
        if self.user is None:
            return web.Response(status=403, text="nobody scanned the QR code")
        return self._redirect_with_code(q)

    def _redirect_with_code(self, q: dict[str, str]) -> web.Response:
        code = f"code-{next(self.fake._ids)}-{secrets.token_hex(8)}"
        self.codes[code] = (self.user, time.time())
        sep = "&" if "?" in q["redirect_uri"] else "?"
        target = q["redirect_uri"] + sep + urlencode({"code": code, "state": q.get("state", "")})
        return web.Response(status=302, headers={"Location": target})

    async def _getuserinfo(self, request: web.Request) -> web.Response:
        call = await self.fake._record(request)
        if (bad := self.fake._check_token(request)) is not None:
            return bad
        found = self.codes.pop(call.query.get("code", ""), None)  # a code works once
        if found is None or time.time() - found[1] > self.code_ttl:
            return _err(40029, "invalid code")
        self.exchanged.append(found[0])
        return web.json_response({"errcode": 0, "errmsg": "ok", "userid": found[0]})
