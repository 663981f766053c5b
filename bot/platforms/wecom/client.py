"""Async WeCom server API client (gettoken, message, template-card update, media).

Written on aiohttp instead of wechatpy's ``WeChatClient`` because that one is
synchronous, ignores a custom API base for tokens/media, and re-fetches the
token without limit on 40014/42001. Here every retry is bounded:

* token errors (40001/40014/42001): refresh the token once, retry once;
* throttling (45009/45033), system busy (-1), HTTP 5xx/429, network errors:
  exponential backoff with jitter, at most ``retries`` retries, then
  :class:`WeComTransientError`;
* any other non-zero errcode: :class:`WeComAPIError` (permanent).

The access token never appears in exceptions or logs.
"""
from __future__ import annotations

import asyncio
import json
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from bot.platforms.base import PermanentSendError, TransientSendError

log = logging.getLogger(__name__)

TOKEN_ERRCODES = frozenset({40001, 40014, 42001})
BACKOFF_ERRCODES = frozenset({-1, 45009, 45033})
MEDIA_KINDS = {"image": 10 << 20, "voice": 2 << 20, "video": 10 << 20, "file": 20 << 20}
MAX_DOWNLOAD = 30 << 20
# Seconds; WeCom's maximum (4 h). A process down for up to 4 h still resends without doubles.
DUPLICATE_CHECK_INTERVAL = 4 * 3600


class WeComAPIError(PermanentSendError):
    """WeCom answered a non-retryable errcode (or a non-retryable HTTP status)."""

    def __init__(self, errcode: int, errmsg: str, *, path: str = "", status: int | None = None) -> None:
        self.errcode = errcode
        self.errmsg = errmsg
        self.path = path
        self.status = status
        super().__init__(f"WeCom {path} errcode={errcode} errmsg={errmsg}")


class WeComTransientError(TransientSendError):
    """Retries exhausted on throttling, 5xx or network errors; try again later."""

    def __init__(self, message: str, *, errcode: int | None = None, path: str = "") -> None:
        self.errcode = errcode
        self.path = path
        super().__init__(message)


class _Retry(Exception):
    """Internal: this attempt failed in a way worth retrying after a pause."""

    def __init__(self, message: str, *, errcode: int | None = None, ambiguous: bool = False) -> None:
        super().__init__(message)
        self.errcode = errcode
        # True when WeCom may have acted on the request (timeout, 5xx).
        self.ambiguous = ambiguous


class WeComClient:
    """One per app; share it (the token cache and its lock live here)."""

    def __init__(
        self,
        settings: Any,
        session: aiohttp.ClientSession,
        *,
        retries: int = 4,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        token_margin: float = 300.0,
        timeout: float = 15.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._settings = settings
        self._session = session
        self._base = str(settings.wecom_api_base).rstrip("/")
        self._retries = retries
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._token_margin = token_margin
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._clock = clock
        self._sleep = sleep
        self._token: str | None = None
        self._token_expires = 0.0
        self._token_lock = asyncio.Lock()

    @property
    def agent_id(self) -> int:
        return int(self._settings.wecom_agent_id)

    # -- public API ---------------------------------------------------------

    async def send_message(self, payload: dict) -> dict:
        """POST message/send; returns WeCom's answer (msgid, invaliduser, response_code…).

        If an attempt failed ambiguously (timeout, 5xx) the retry asks WeCom to
        drop a duplicate, so a retry never messages anyone twice.
        """
        return await self._call("POST", "/cgi-bin/message/send", json_body=payload, dedup_on_retry=True)

    async def update_template_card(self, userids: list[str], response_code: str, replace_name: str) -> dict:
        """Grey out the clicked button of a button_interaction card (each code works once)."""
        payload = {
            "userids": list(userids),
            "agentid": self.agent_id,
            "response_code": response_code,
            "button": {"replace_name": replace_name},
        }
        return await self._call("POST", "/cgi-bin/message/update_template_card", json_body=payload)

    async def recall(self, msgid: str) -> dict:
        """POST message/recall: take back a message sent in the last 24 hours."""
        return await self._call("POST", "/cgi-bin/message/recall", json_body={"msgid": msgid})

    async def get_media(self, media_id: str) -> tuple[bytes, str, str]:
        """Download media a user sent: (data, filename, content_type)."""
        return await self._call("GET", "/cgi-bin/media/get", params={"media_id": media_id}, download=True)

    async def upload_media(self, kind: str, filename: str, data: bytes) -> str:
        """Upload temporary media (3 days); ``filename`` is what users see."""
        limit = MEDIA_KINDS.get(kind)
        if limit is None:
            raise ValueError(f"unknown media type {kind!r}")
        if not 5 < len(data) <= limit:
            raise WeComAPIError(40006, f"{kind} size {len(data)} outside (5, {limit}] bytes", path="/cgi-bin/media/upload")
        # Sent raw (UTF-8, as browsers do) so users see the Chinese name; quotes and
        # line breaks would break the multipart header.
        filename = re.sub(r'["\\\r\n]', "_", filename) or "file"
        answer = await self._call(
            "POST", "/cgi-bin/media/upload", params={"type": kind}, upload=(filename, data)
        )
        media_id = answer.get("media_id")
        if not isinstance(media_id, str) or not media_id:
            raise WeComAPIError(-2, "upload answer has no media_id", path="/cgi-bin/media/upload")
        return media_id

    async def api(self, method: str, path: str, *, params: dict | None = None, json_body: dict | None = None) -> dict:
        """Any other server API call (the directory), with the same token and retry rules."""
        return await self._call(method, path, params=params, json_body=json_body)

    async def access_token(self) -> str:
        """A valid token, fetched once for all concurrent callers."""
        return await self._get_token()

    # -- token --------------------------------------------------------------

    async def _get_token(self, stale: str | None = None) -> str:
        async with self._token_lock:
            if stale is not None and self._token == stale:
                self._token = None  # rejected by WeCom: fetch a new one
            if self._token and self._clock() < self._token_expires:
                return self._token
            token, expires_in = await self._fetch_token()
            early = min(self._token_margin, expires_in / 2)
            self._token = token
            self._token_expires = self._clock() + expires_in - early
            return token

    async def _fetch_token(self) -> tuple[str, float]:
        params = {"corpid": self._settings.wecom_corp_id, "corpsecret": self._settings.wecom_secret}
        data = await self._http_json("GET", "/cgi-bin/gettoken", params=params)
        errcode = _errcode(data)
        if errcode in BACKOFF_ERRCODES:
            raise _Retry(f"gettoken errcode {errcode}", errcode=errcode)
        if errcode != 0:
            # 40001/40013/40091 here mean a wrong corp id or secret: not retryable.
            raise WeComAPIError(errcode, str(data.get("errmsg", "")), path="/cgi-bin/gettoken")
        token = data.get("access_token")
        if not isinstance(token, str) or not token:
            raise _Retry("gettoken answer without access_token")
        try:
            expires_in = float(data.get("expires_in", 7200))
        except (TypeError, ValueError):
            expires_in = 7200.0
        return token, max(expires_in, 1.0)

    # -- request loop -------------------------------------------------------

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json_body: dict | None = None,
        params: dict | None = None,
        upload: tuple[str, bytes] | None = None,
        download: bool = False,
        dedup_on_retry: bool = False,
    ) -> Any:
        refreshed = False
        failures = 0
        body = json_body
        while True:
            try:
                token = await self._get_token()
                query = {**(params or {}), "access_token": token}
                if download:
                    result = await self._http_download(path, query)
                    if isinstance(result, tuple):
                        return result
                    data = result
                else:
                    data = await self._http_json(method, path, params=query, json_body=body, upload=upload)
                errcode = _errcode(data)
                if errcode in TOKEN_ERRCODES:
                    if refreshed:
                        raise WeComTransientError(
                            f"WeCom {path} still rejects a fresh token (errcode {errcode})", errcode=errcode, path=path
                        )
                    refreshed = True
                    log.info("wecom %s: token rejected (errcode %s), refreshing once", path, errcode)
                    await self._get_token(stale=token)
                    continue
                if errcode in BACKOFF_ERRCODES:
                    raise _Retry(f"errcode {errcode}", errcode=errcode)
                if errcode != 0:
                    raise WeComAPIError(errcode, str(data.get("errmsg", "")), path=path)
                if download:
                    raise WeComAPIError(-2, "JSON answer instead of a file", path=path)
                return data
            except _Retry as exc:
                failures += 1
                if failures > self._retries:
                    raise WeComTransientError(
                        f"WeCom {path}: giving up after {failures} attempts ({exc})", errcode=exc.errcode, path=path
                    ) from None
                if exc.ambiguous and dedup_on_retry and body is not None and not body.get("enable_duplicate_check"):
                    body = {**body, "enable_duplicate_check": 1, "duplicate_check_interval": DUPLICATE_CHECK_INTERVAL}
                delay = self._backoff(failures)
                log.warning("wecom %s: %s; retry %d/%d in %.2fs", path, exc, failures, self._retries, delay)
                await self._sleep(delay)

    def _backoff(self, failures: int) -> float:
        base = min(self._backoff_max, self._backoff_base * (2 ** (failures - 1)))
        return base * random.uniform(0.5, 1.5)

    async def _http_json(
        self,
        method: str,
        path: str,
        *,
        params: dict,
        json_body: dict | None = None,
        upload: tuple[str, bytes] | None = None,
    ) -> dict:
        kwargs: dict[str, Any] = {"params": params, "timeout": self._timeout}
        if json_body is not None:
            kwargs["data"] = json.dumps(json_body, ensure_ascii=False).encode("utf-8")
            kwargs["headers"] = {"Content-Type": "application/json; charset=utf-8"}
        elif upload is not None:
            filename, data = upload
            form = aiohttp.FormData(quote_fields=False)
            form.add_field("media", data, filename=filename, content_type="application/octet-stream")
            kwargs["data"] = form
        try:
            async with self._session.request(method, self._base + path, **kwargs) as resp:
                _check_status(resp.status, path)
                raw = await resp.read()
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise _Retry(f"{type(exc).__name__}", ambiguous=True) from None
        return _parse_json(raw)

    async def _http_download(self, path: str, params: dict) -> tuple[bytes, str, str] | dict:
        """File bytes, or the JSON error answer (WeCom answers errors as JSON)."""
        try:
            async with self._session.get(self._base + path, params=params, timeout=self._timeout) as resp:
                _check_status(resp.status, path)
                ctype = resp.content_type or "application/octet-stream"
                if resp.headers.get("Content-Disposition") is None and ctype in (
                    "application/json", "text/plain", "text/json"
                ):
                    return _parse_json(await resp.read())
                if (resp.content_length or 0) > MAX_DOWNLOAD:
                    raise WeComAPIError(-3, "media too large", path=path)
                data = await resp.content.read(MAX_DOWNLOAD + 1)
                if len(data) > MAX_DOWNLOAD:
                    raise WeComAPIError(-3, "media too large", path=path)
                disposition = resp.content_disposition
                filename = (disposition.filename if disposition else None) or ""
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise _Retry(f"{type(exc).__name__}", ambiguous=True) from None
        return data, filename, ctype


def _check_status(status: int, path: str) -> None:
    if status >= 500 or status == 429:
        raise _Retry(f"HTTP {status}", ambiguous=status >= 500)
    if status != 200:
        raise WeComAPIError(-status, f"HTTP {status}", path=path, status=status)


def _parse_json(raw: bytes) -> dict:
    try:
        data = json.loads(raw)
    except ValueError:
        raise _Retry("answer is not JSON", ambiguous=True) from None
    if not isinstance(data, dict):
        raise _Retry("answer is not a JSON object", ambiguous=True)
    return data


def _errcode(data: dict) -> int:
    try:
        return int(data.get("errcode", 0))
    except (TypeError, ValueError):
        return -1
