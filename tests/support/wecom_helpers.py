"""Build real encrypted, signed WeCom callback requests (WXBizMsgCrypt via wechatpy).

``signed_post(xml)`` → (query, body) for ``POST /wecom/callback``;
``signed_echo(plain)`` → query for ``GET /wecom/callback``.
The default token/key/corp are the official WXBizMsgCrypt sample values.
"""
from __future__ import annotations

import time
import uuid

import xmltodict
from wechatpy.enterprise.crypto import WeChatCrypto

TOKEN = "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo"
AES_KEY = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt"
CORP_ID = "ww1436e0e65a779aee"
AGENT_ID = "1000002"

# Official vectors (timestamps from 2016: test them with the skew check off).
VERIFY_URL = {
    "msg_signature": "012bc692d0a58dd4b10f8dfe5c4ac00ae211ebeb",
    "timestamp": "1476416373",
    "nonce": "47744683",
    "echostr": "fsi1xnbH4yQh0+PJxcOdhhK6TDXkjMyhEPA7xB2TGz6b+g7xyAbEkRxN/3cNXW9qdqjnoVzEtpbhnFyq6SVHyA==",
}
VERIFY_URL_PLAIN = "1288432023552776189"
DECRYPT_MSG = {
    "msg_signature": "0c3914025cb4b4d68103f6bfc8db550f79dcf48e",
    "timestamp": "1476422779",
    "nonce": "1597212914",
}
DECRYPT_MSG_ENCRYPT = (
    "Kl7kjoSf6DMD1zh7rtrHjFaDapSCkaOnwu3bqLc5tAybhhMl9pFeK8NslNPVdMwmBQTNoW4mY7AIjeLvEl3NyeTkAgGzBhzTtRLNshw2AEew"
    "+kkYcD+Fq72Kt00fT0WnN87hGrW8SqGc+NcT3mu87Ha3dz1pSDi6GaUA6A0sqfde0VJPQbZ9U+3JWcoD4Z5jaU0y9GSh010wsHF8KZD24Yh"
    "mZH4ch4Ka7ilEbjbfvhKkNL65HHL0J6EYJIZUC2pFrdkJ7MhmEbU2qARR4iQHE7wy24qy0cRX3Mfp6iELcDNfSsPGjUQVDGxQDCWjayJOpc"
    "wocugux082f49HKYg84EpHSGXAyh+/oxwaWbvL6aSDPOYuPDGOCI8jmnKiypE+"
)


def envelope(encrypt: str, corp_id: str = CORP_ID, agent_id: str = AGENT_ID) -> bytes:
    """The POST body WeCom sends: ``<xml><ToUserName/><Encrypt/><AgentID/></xml>``."""
    return (
        f"<xml><ToUserName>{_cdata(corp_id)}</ToUserName><Encrypt>{_cdata(encrypt)}</Encrypt>"
        f"<AgentID>{_cdata(agent_id)}</AgentID></xml>"
    ).encode()


def signed_post(
    plaintext_xml: str,
    *,
    token: str = TOKEN,
    aes_key: str = AES_KEY,
    corp_id: str = CORP_ID,
    timestamp: str | None = None,
    nonce: str | None = None,
) -> tuple[dict[str, str], bytes]:
    """(query, body) of a genuine callback carrying ``plaintext_xml``."""
    timestamp = timestamp or str(int(time.time()))
    nonce = nonce or uuid.uuid4().hex[:10]
    reply = WeChatCrypto(token, aes_key, corp_id).encrypt_message(plaintext_xml, nonce, timestamp)
    doc = xmltodict.parse(reply)["xml"]
    query = {"msg_signature": doc["MsgSignature"], "timestamp": timestamp, "nonce": nonce}
    return query, envelope(doc["Encrypt"], corp_id)


def signed_echo(
    plain: str,
    *,
    token: str = TOKEN,
    aes_key: str = AES_KEY,
    corp_id: str = CORP_ID,
    timestamp: str | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """Query of a URL-verification GET whose echostr decrypts to ``plain``."""
    timestamp = timestamp or str(int(time.time()))
    nonce = nonce or uuid.uuid4().hex[:10]
    reply = WeChatCrypto(token, aes_key, corp_id).encrypt_message(plain, nonce, timestamp)
    doc = xmltodict.parse(reply)["xml"]
    return {"msg_signature": doc["MsgSignature"], "timestamp": timestamp, "nonce": nonce, "echostr": doc["Encrypt"]}


# -- plaintext XML builders ----------------------------------------------------


def text_xml(from_user: str, content: str, msg_id: str | int = 1, *, create_time: int | None = None,
             corp_id: str = CORP_ID, agent_id: str = AGENT_ID) -> str:
    return _message(from_user, "text", create_time, corp_id, agent_id,
                    f"<Content>{_cdata(content)}</Content><MsgId>{msg_id}</MsgId>")


def image_xml(from_user: str, media_id: str, msg_id: str | int = 1, *, pic_url: str = "https://example.invalid/p.jpg",
              create_time: int | None = None, corp_id: str = CORP_ID, agent_id: str = AGENT_ID) -> str:
    return _message(from_user, "image", create_time, corp_id, agent_id,
                    f"<PicUrl>{_cdata(pic_url)}</PicUrl><MediaId>{_cdata(media_id)}</MediaId><MsgId>{msg_id}</MsgId>")


def template_card_event_xml(from_user: str, event_key: str, task_id: str, response_code: str, *,
                            card_type: str = "button_interaction", create_time: int | None = None,
                            corp_id: str = CORP_ID, agent_id: str = AGENT_ID) -> str:
    return _message(
        from_user, "event", create_time, corp_id, agent_id,
        f"<Event>{_cdata('template_card_event')}</Event><EventKey>{_cdata(event_key)}</EventKey>"
        f"<TaskId>{_cdata(task_id)}</TaskId><CardType>{_cdata(card_type)}</CardType>"
        f"<ResponseCode>{_cdata(response_code)}</ResponseCode>",
    )


def enter_agent_xml(from_user: str, *, create_time: int | None = None, corp_id: str = CORP_ID,
                    agent_id: str = AGENT_ID) -> str:
    return _message(from_user, "event", create_time, corp_id, agent_id,
                    f"<Event>{_cdata('enter_agent')}</Event><EventKey>{_cdata('')}</EventKey>")


def _message(from_user: str, msg_type: str, create_time: int | None, corp_id: str, agent_id: str, rest: str) -> str:
    create_time = create_time if create_time is not None else int(time.time())
    return (
        f"<xml><ToUserName>{_cdata(corp_id)}</ToUserName><FromUserName>{_cdata(from_user)}</FromUserName>"
        f"<CreateTime>{create_time}</CreateTime><MsgType>{_cdata(msg_type)}</MsgType>{rest}"
        f"<AgentID>{agent_id}</AgentID></xml>"
    )


def _cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"
