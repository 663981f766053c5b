"""WeCom callback crypto (WXBizMsgCrypt) with strict, never-5xx error mapping.

wechatpy's ``WeChatCrypto`` does the AES part, but its signature compare is not
constant-time and malformed input escapes as bare struct/binascii/ValueError.
This wrapper checks the signature itself (``hmac.compare_digest``), checks the
timestamp, and turns every failure into a :class:`CallbackRejected` carrying
the HTTP status the callback should answer: 403 for anything that fails
authentication, 400 for anything malformed.
"""
from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Mapping

from wechatpy.enterprise.crypto import PrpCrypto, WeChatCrypto

from bot.platforms.wecom.xml import BadXml, read_fields


class CallbackRejected(Exception):
    """The request must be refused with ``status``; ``reason`` is for the log only."""

    status = 400

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class MalformedCallback(CallbackRejected):
    """Missing parameters, bad XML, bad base64/ciphertext, wrong receive id → 400."""

    status = 400


class ForbiddenCallback(CallbackRejected):
    """Bad signature or stale timestamp → 403."""

    status = 403


def compute_signature(token: str, timestamp: str, nonce: str, encrypt: str) -> str:
    """sha1 over the sorted parts, exactly as wechatpy/WXBizMsgCrypt (bytes sort)."""
    parts = sorted(p.encode("utf-8", "surrogatepass") for p in (token, timestamp, nonce, encrypt))
    return hashlib.sha1(b"".join(parts)).hexdigest()


class WeComCrypto:
    """Verifies and decrypts callback requests for one self-built app."""

    def __init__(
        self,
        token: str,
        aes_key: str,
        corp_id: str,
        *,
        max_skew: int = 300,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._wechat = WeChatCrypto(token, aes_key, corp_id)
        self._token = token
        self._corp_id = corp_id
        self._max_skew = max_skew
        self._clock = clock

    # -- public -------------------------------------------------------------

    def verify_url(self, query: Mapping[str, str]) -> str:
        """GET URL verification: the decrypted echostr, to answer verbatim."""
        signature, timestamp, nonce = self._common_params(query)
        echostr = query.get("echostr") or ""
        if not echostr:
            raise MalformedCallback("missing echostr")
        # A raw '+' in a query string decodes to ' '; base64 never contains spaces.
        echostr = echostr.replace(" ", "+")
        self._authenticate(signature, timestamp, nonce, echostr)
        return self._decrypt(echostr)

    def decrypt_callback(self, query: Mapping[str, str], body: bytes) -> str:
        """POST message/event: the decrypted plaintext XML."""
        signature, timestamp, nonce = self._common_params(query)
        encrypt = _envelope_encrypt(body)
        self._authenticate(signature, timestamp, nonce, encrypt)
        return self._decrypt(encrypt)

    def encrypt(self, plaintext: str, nonce: str, timestamp: str | None = None) -> str:
        """Encrypted reply XML (tests and tooling; replies go through message/send)."""
        return self._wechat.encrypt_message(plaintext, nonce, timestamp)

    # -- steps --------------------------------------------------------------

    @staticmethod
    def _common_params(query: Mapping[str, str]) -> tuple[str, str, str]:
        values = []
        for name in ("msg_signature", "timestamp", "nonce"):
            value = query.get(name) or ""
            if not value:
                raise MalformedCallback(f"missing {name}")
            values.append(value)
        signature, timestamp, nonce = values
        if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
            raise MalformedCallback("timestamp is not a number")
        return signature, timestamp, nonce

    def _authenticate(self, signature: str, timestamp: str, nonce: str, encrypt: str) -> None:
        expected = compute_signature(self._token, timestamp, nonce, encrypt).encode()
        given = signature.strip().lower().encode("utf-8", "replace")
        if not hmac.compare_digest(expected, given):
            raise ForbiddenCallback("bad msg_signature")
        if self._max_skew and abs(self._clock() - int(timestamp)) > self._max_skew:
            raise ForbiddenCallback("stale timestamp")

    def _decrypt(self, encrypt: str) -> str:
        # The signature is already verified; only the AES part is delegated.
        # Anything at all raised by malformed ciphertext (short/odd-length data,
        # bad padding, bad length prefix, non-UTF-8, wrong receive id) is a 400.
        try:
            return PrpCrypto(self._wechat.key).decrypt(encrypt, self._corp_id)
        except Exception as exc:  # noqa: BLE001 - see comment above
            raise MalformedCallback(f"cannot decrypt: {type(exc).__name__}") from None


def _envelope_encrypt(body: bytes) -> str:
    """The ``Encrypt`` field of ``<xml><ToUserName/><Encrypt/><AgentID/></xml>``."""
    if not body:
        raise MalformedCallback("empty body")
    try:
        encrypt = read_fields(body).text("Encrypt")  # no DTD, no deep nesting: refused as it streams
    except BadXml as exc:
        raise MalformedCallback(f"bad envelope: {exc}") from None
    if not encrypt:
        raise MalformedCallback("bad Encrypt field")
    return encrypt
