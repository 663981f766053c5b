"""WeCom adapter: callback crypto and parsing, API client retries, cards, sender."""
from __future__ import annotations

import asyncio
import base64
import os
import random
import time
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.config import Settings
from bot.events import Event
from bot.outbound import Button, Card, OutboundMessage
from bot.platforms.base import PermanentSendError, TransientSendError
from bot.platforms.wecom import (
    BatchTooLargeError,
    CardError,
    WeComAPIError,
    WeComClient,
    WeComCrypto,
    WeComSender,
    WeComTransientError,
    make_media_fetcher,
    render,
    setup_wecom_routes,
)
from bot.platforms.wecom.cards import TEXT_MAX_BYTES, truncate_utf8
from bot.platforms.wecom.crypto import compute_signature
from tests.support import wecom_helpers as h
from tests.support.fakewecom import GETTOKEN, MEDIA_GET, SEND, UPDATE_CARD, FakeWeCom, http

PATH = "/wecom/callback"


def make_settings(tmp_path: Path, *, base: str = "http://127.0.0.1:9", max_skew: int = 300, corp_id: str = h.CORP_ID,
                  secret: str = "fake-secret") -> Settings:
    return Settings(
        wecom_corp_id=corp_id, wecom_agent_id=h.AGENT_ID, wecom_secret=secret, wecom_token=h.TOKEN,
        wecom_aes_key=h.AES_KEY, wecom_api_base=base, wecom_max_skew=max_skew, data_dir=tmp_path,
    )


@pytest.fixture
async def fake():
    server = FakeWeCom(corp_id=h.CORP_ID)
    await server.start()
    yield server
    await server.close()


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as s:
        yield s


def make_client(settings: Settings, session: aiohttp.ClientSession, **kw) -> WeComClient:
    return WeComClient(settings, session, backoff_base=0.001, **kw)


class Sink(list):
    async def __call__(self, event: Event) -> None:
        self.append(event)


async def callback_client(aiohttp_client, settings: Settings, fetcher=None, sink=None):
    async def no_fetch(media_id: str):
        raise AssertionError("no media expected")

    sink = sink if sink is not None else Sink()
    app = web.Application()
    setup_wecom_routes(app, settings, sink, fetcher or no_fetch)
    return await aiohttp_client(app), sink


# -- official vectors ----------------------------------------------------------------


async def test_official_verify_url(aiohttp_client, tmp_path):
    client, _ = await callback_client(aiohttp_client, make_settings(tmp_path, max_skew=0))
    resp = await client.get(PATH, params=h.VERIFY_URL)
    assert resp.status == 200
    assert await resp.read() == b"1288432023552776189"
    assert resp.content_type == "text/plain"


async def test_official_verify_url_with_raw_plus_in_query(aiohttp_client, tmp_path):
    client, _ = await callback_client(aiohttp_client, make_settings(tmp_path, max_skew=0))
    q = h.VERIFY_URL
    raw = f"{PATH}?msg_signature={q['msg_signature']}&timestamp={q['timestamp']}&nonce={q['nonce']}&echostr={q['echostr']}"
    resp = await client.get(raw)
    assert resp.status == 200
    assert await resp.text() == h.VERIFY_URL_PLAIN


async def test_official_decrypt_msg(aiohttp_client, tmp_path):
    client, sink = await callback_client(aiohttp_client, make_settings(tmp_path, max_skew=0))
    resp = await client.post(PATH, params=h.DECRYPT_MSG, data=h.envelope(h.DECRYPT_MSG_ENCRYPT))
    assert resp.status == 200
    assert await resp.read() == b""
    [event] = sink
    assert (event.platform, event.kind, event.userid, event.text) == ("wecom", "text", "ChenJiaShun", "你好")
    assert event.dedup_key == "wecom:msg:1456453720"


def test_crypto_official_vector_direct():
    crypto = WeComCrypto(h.TOKEN, h.AES_KEY, h.CORP_ID, max_skew=0)
    xml = crypto.decrypt_callback(h.DECRYPT_MSG, h.envelope(h.DECRYPT_MSG_ENCRYPT))
    assert "ChenJiaShun" in xml and "1456453720" in xml and "1000002" in xml
    assert crypto.verify_url(h.VERIFY_URL) == h.VERIFY_URL_PLAIN


# -- authentication --------------------------------------------------------------------


async def test_forged_signature_is_403(aiohttp_client, tmp_path):
    client, sink = await callback_client(aiohttp_client, make_settings(tmp_path, max_skew=0))
    forged = {**h.DECRYPT_MSG, "msg_signature": "0" * 40}
    assert (await client.post(PATH, params=forged, data=h.envelope(h.DECRYPT_MSG_ENCRYPT))).status == 403
    assert (await client.get(PATH, params={**h.VERIFY_URL, "msg_signature": "f" * 40})).status == 403
    # signed with the wrong token
    query, body = h.signed_post(h.text_xml("u1", "hi"), token="not-the-token")
    assert (await client.post(PATH, params=query, data=body)).status == 403
    # a valid signature for a different nonce
    query, body = h.signed_post(h.text_xml("u1", "hi"))
    assert (await client.post(PATH, params={**query, "nonce": "other"}, data=body)).status == 403
    assert sink == []


async def test_stale_timestamp_is_403(aiohttp_client, tmp_path):
    client, sink = await callback_client(aiohttp_client, make_settings(tmp_path, max_skew=300))
    assert (await client.post(PATH, params=h.DECRYPT_MSG, data=h.envelope(h.DECRYPT_MSG_ENCRYPT))).status == 403
    assert (await client.get(PATH, params=h.VERIFY_URL)).status == 403
    query, body = h.signed_post(h.text_xml("u1", "hi"), timestamp=str(int(time.time()) - 301))
    assert (await client.post(PATH, params=query, data=body)).status == 403
    query, body = h.signed_post(h.text_xml("u1", "hi"), timestamp=str(int(time.time()) + 10))
    assert (await client.post(PATH, params=query, data=body)).status == 200
    assert len(sink) == 1


# -- malformed input: always 4xx, never 5xx ------------------------------------------------


def _signed_raw(encrypt: str, timestamp: str = "1476422779", nonce: str = "n1") -> tuple[dict, bytes]:
    sig = compute_signature(h.TOKEN, timestamp, nonce, encrypt)
    return {"msg_signature": sig, "timestamp": timestamp, "nonce": nonce}, h.envelope(encrypt)


BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">'
    '<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>'
    "<xml><ToUserName>x</ToUserName><Encrypt>&lol4;</Encrypt></xml>"
)
XXE = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><Encrypt>&e;</Encrypt></xml>'


def _junk_requests() -> list[tuple[str, dict, bytes]]:
    good = h.DECRYPT_MSG_ENCRYPT
    junk: list[tuple[str, dict, bytes]] = []

    def post(query: dict, body: bytes, label: str) -> None:
        junk.append((label, query, body))

    post(h.DECRYPT_MSG, b"", "empty body")
    post(h.DECRYPT_MSG, b"<xml><Encrypt>", "unclosed xml")
    post(h.DECRYPT_MSG, b"not xml at all", "not xml")
    post(h.DECRYPT_MSG, b"\xff\xfe\x00<xml/>", "not utf-8")
    post(h.DECRYPT_MSG, b"<xml/>", "empty root")
    post(h.DECRYPT_MSG, b"<xml><ToUserName>x</ToUserName></xml>", "no Encrypt")
    post(h.DECRYPT_MSG, b"<xml><Encrypt><a>1</a><b>2</b></Encrypt></xml>", "nested Encrypt")
    post(h.DECRYPT_MSG, b"<xml><Encrypt>a</Encrypt><Encrypt>b</Encrypt></xml>", "repeated Encrypt")
    post(h.DECRYPT_MSG, b"<other><Encrypt>abc</Encrypt></other>", "wrong root")
    post(h.DECRYPT_MSG, BILLION_LAUGHS.encode(), "billion laughs")
    post(h.DECRYPT_MSG, XXE.encode(), "xxe")
    post(h.DECRYPT_MSG, os.urandom(256), "random bytes")
    for name in ("msg_signature", "timestamp", "nonce"):
        post({k: v for k, v in h.DECRYPT_MSG.items() if k != name}, h.envelope(good), f"missing {name}")
    post({}, h.envelope(good), "no query")
    post({**h.DECRYPT_MSG, "timestamp": "abc"}, h.envelope(good), "timestamp not a number")
    post({**h.DECRYPT_MSG, "timestamp": "٣٤٥"}, h.envelope(good), "non-ascii digits")
    post({**h.DECRYPT_MSG, "timestamp": "9" * 40}, h.envelope(good), "huge timestamp")
    # Correctly signed, so they reach decryption:
    for label, encrypt in [
        ("bad base64 padding", "abc"),
        ("bad base64 chars", "!!!!****"),
        ("truncated ciphertext", good[:100]),
        ("truncated to a block multiple", base64.b64encode(base64.b64decode(good)[:32]).decode()),
        ("one block", base64.b64encode(b"\x00" * 16).decode()),
        ("random ciphertext", base64.b64encode(os.urandom(96)).decode()),
        ("flipped byte", _flip(good, 40)),
        ("flipped last block", _flip(good, -3)),
        ("empty after base64", "===="),
    ]:
        post(*_signed_raw(encrypt), label)
    # Correctly encrypted and signed, but for another corp or with a bad plaintext:
    post(*h.signed_post(h.text_xml("u1", "hi"), corp_id="wwsomeoneelse", timestamp="1476422779"), "other corp")
    for label, plain in [
        ("plaintext not xml", "hello"),
        ("plaintext empty", ""),
        ("plaintext no MsgType", "<xml><FromUserName>u</FromUserName></xml>"),
        ("plaintext no FromUserName", "<xml><MsgType>text</MsgType><MsgId>1</MsgId></xml>"),
        ("plaintext text no MsgId", "<xml><FromUserName>u</FromUserName><MsgType>text</MsgType></xml>"),
        ("plaintext nested MsgType", "<xml><FromUserName>u</FromUserName><MsgType><a/></MsgType></xml>"),
        ("plaintext event no Event", "<xml><FromUserName>u</FromUserName><MsgType>event</MsgType></xml>"),
        ("plaintext billion laughs", BILLION_LAUGHS.replace("<Encrypt>", "<FromUserName>")
         .replace("</Encrypt>", "</FromUserName>")),
    ]:
        post(*h.signed_post(plain, timestamp="1476422779"), label)
    return junk


def _flip(b64: str, index: int) -> str:
    raw = bytearray(base64.b64decode(b64))
    raw[index] ^= 0x55
    return base64.b64encode(bytes(raw)).decode()


async def test_junk_is_400_never_5xx(aiohttp_client, tmp_path):
    client, sink = await callback_client(aiohttp_client, make_settings(tmp_path, max_skew=0))
    failures = []
    for label, query, body in _junk_requests():
        resp = await client.post(PATH, params=query, data=body)
        if resp.status != 400:
            failures.append((label, resp.status))
    assert failures == []
    assert sink == []


async def test_get_junk_is_400(aiohttp_client, tmp_path):
    client, _ = await callback_client(aiohttp_client, make_settings(tmp_path, max_skew=0))
    q = h.VERIFY_URL
    cases = [
        {k: v for k, v in q.items() if k != "echostr"},
        {k: v for k, v in q.items() if k != "nonce"},
        {},
    ]
    for echostr in ("abc", "!!!!", base64.b64encode(os.urandom(48)).decode(), q["echostr"][:20]):
        cases.append({"msg_signature": compute_signature(h.TOKEN, q["timestamp"], q["nonce"], echostr),
                      "timestamp": q["timestamp"], "nonce": q["nonce"], "echostr": echostr})
    for params in cases:
        resp = await client.get(PATH, params=params)
        assert resp.status == 400, params


async def test_random_mutations_never_5xx(aiohttp_client, tmp_path):
    client, _ = await callback_client(aiohttp_client, make_settings(tmp_path, max_skew=0))
    rng = random.Random(7)
    good = h.envelope(h.DECRYPT_MSG_ENCRYPT)
    for _ in range(150):
        body = bytearray(good)
        for _ in range(rng.randint(1, 8)):
            body[rng.randrange(len(body))] = rng.randrange(256)
        resp = await client.post(PATH, params=h.DECRYPT_MSG, data=bytes(body))
        assert resp.status in (200, 400, 403)


# -- events ------------------------------------------------------------------------------


async def test_text_event(aiohttp_client, tmp_path):
    client, sink = await callback_client(aiohttp_client, make_settings(tmp_path))
    query, body = h.signed_post(h.text_xml("zhangsan", "查询 <成绩> & ]]> 结束", msg_id=42, create_time=1700000000))
    resp = await client.post(PATH, params=query, data=body)
    assert resp.status == 200 and await resp.read() == b""
    [event] = sink
    assert event.kind == "text" and event.userid == "zhangsan"
    assert event.text == "查询 <成绩> & ]]> 结束"
    assert event.dedup_key == "wecom:msg:42"
    assert int(event.created_at.timestamp()) == 1700000000
    # WeCom's retry of the same message has the same key (the sink deduplicates).
    query, body = h.signed_post(h.text_xml("zhangsan", "查询 <成绩> & ]]> 结束", msg_id=42))
    await client.post(PATH, params=query, data=body)
    assert sink[1].dedup_key == sink[0].dedup_key


async def test_image_event_downloads_media(aiohttp_client, tmp_path, fake, session):
    settings = make_settings(tmp_path, base=fake.base_url)
    fake.add_media("MEDIA123", b"\xff\xd8\xff\xe0fake-jpeg-bytes", filename="IMG_0001.jpg", content_type="image/jpeg")
    fetcher = make_media_fetcher(make_client(settings, session), settings.data_dir / "files")
    client, sink = await callback_client(aiohttp_client, settings, fetcher)
    query, body = h.signed_post(h.image_xml("lisi", "MEDIA123", msg_id=77))
    assert (await client.post(PATH, params=query, data=body)).status == 200
    [event] = sink
    assert event.kind == "image" and event.dedup_key == "wecom:msg:77"
    att = event.attachment
    assert att is not None and att.filename == "IMG_0001.jpg" and att.content_type == "image/jpeg"
    path = Path(att.path)
    assert path.read_bytes() == b"\xff\xd8\xff\xe0fake-jpeg-bytes" and att.size == path.stat().st_size
    assert (tmp_path / "files") in path.parents
    assert fake.calls_to(MEDIA_GET)[0].query["media_id"] == "MEDIA123"


async def test_image_event_when_download_fails(aiohttp_client, tmp_path, fake, session):
    settings = make_settings(tmp_path, base=fake.base_url)
    fetcher = make_media_fetcher(make_client(settings, session), settings.data_dir / "files")
    client, sink = await callback_client(aiohttp_client, settings, fetcher)
    query, body = h.signed_post(h.image_xml("lisi", "UNKNOWN", msg_id=78))
    assert (await client.post(PATH, params=query, data=body)).status == 200
    [event] = sink
    assert event.kind == "image" and event.attachment is None


async def test_image_event_when_download_is_slow(tmp_path):
    async def slow(media_id: str):
        await asyncio.sleep(5)

    sink = Sink()
    app = web.Application()
    setup_wecom_routes(app, make_settings(tmp_path), sink, slow, media_timeout=0.05)
    async with TestClient(TestServer(app)) as client:
        query, body = h.signed_post(h.image_xml("lisi", "M", msg_id=79))
        assert (await client.post(PATH, params=query, data=body)).status == 200
    assert sink[0].attachment is None


async def test_safe_filename_from_media(tmp_path, fake, session):
    settings = make_settings(tmp_path, base=fake.base_url)
    fake.add_media("M1", b"hello world", filename="../../etc/passwd", content_type="text/csv")
    att = await make_media_fetcher(make_client(settings, session), tmp_path / "files")("M1")
    assert att.filename == "passwd" and (tmp_path / "files") in Path(att.path).parents


async def test_template_card_event(aiohttp_client, tmp_path):
    client, sink = await callback_client(aiohttp_client, make_settings(tmp_path))
    xml = h.template_card_event_xml("wangwu", "task:12:approve", "task-12-r1", "RC_abc", create_time=1700000001)
    query, body = h.signed_post(xml)
    assert (await client.post(PATH, params=query, data=body)).status == 200
    [event] = sink
    assert event.kind == "button"
    assert (event.button_key, event.reply_ref, event.account_id) == ("task:12:approve", "RC_abc", "wangwu")
    assert event.dedup_key == "wecom:evt:wangwu:1700000001:template_card_event:task:12:approve"


async def test_enter_agent_and_other(aiohttp_client, tmp_path):
    client, sink = await callback_client(aiohttp_client, make_settings(tmp_path))
    for xml in (
        h.enter_agent_xml("zhaoliu", create_time=1700000002),
        "<xml><ToUserName>c</ToUserName><FromUserName>zhaoliu</FromUserName><CreateTime>1700000003</CreateTime>"
        "<MsgType>voice</MsgType><MediaId>v</MediaId><Format>amr</Format><MsgId>99</MsgId></xml>",
        "<xml><ToUserName>c</ToUserName><FromUserName>zhaoliu</FromUserName><CreateTime>1700000004</CreateTime>"
        "<MsgType>event</MsgType><Event>click</Event><EventKey>menu1</EventKey></xml>",
    ):
        query, body = h.signed_post(xml)
        assert (await client.post(PATH, params=query, data=body)).status == 200
    enter, voice, click = sink
    assert enter.kind == "enter" and enter.dedup_key == "wecom:evt:zhaoliu:1700000002:enter_agent:"
    assert voice.kind == "other" and voice.dedup_key == "wecom:msg:99"
    assert click.kind == "other" and click.dedup_key == "wecom:evt:zhaoliu:1700000004:click:menu1"


async def test_sink_failure_lets_wecom_retry(aiohttp_client, tmp_path):
    async def broken(event):
        raise RuntimeError("db down")

    client, _ = await callback_client(aiohttp_client, make_settings(tmp_path), sink=broken)
    query, body = h.signed_post(h.text_xml("u", "hi"))
    assert (await client.post(PATH, params=query, data=body)).status == 500


async def test_fresh_url_verification(aiohttp_client, tmp_path):
    client, _ = await callback_client(aiohttp_client, make_settings(tmp_path))
    resp = await client.get(PATH, params=h.signed_echo("5927782489442352469"))
    assert resp.status == 200 and await resp.read() == b"5927782489442352469"


# -- client ----------------------------------------------------------------------------------


def text_payload(users: str = "u1") -> dict:
    return {"touser": users, "agentid": 1000002, "msgtype": "text", "text": {"content": "你好"}}


async def test_token_cached(tmp_path, fake, session):
    client = make_client(make_settings(tmp_path, base=fake.base_url), session)
    for _ in range(5):
        answer = await client.send_message(text_payload())
        assert answer["errcode"] == 0 and answer["msgid"]
    assert fake.token_issues == 1 and len(fake.calls_to(GETTOKEN)) == 1


async def test_concurrent_callers_fetch_token_once(tmp_path, fake, session):
    client = make_client(make_settings(tmp_path, base=fake.base_url), session)
    await asyncio.gather(*(client.send_message(text_payload(f"u{i}")) for i in range(20)))
    assert len(fake.calls_to(GETTOKEN)) == 1 and len(fake.calls_to(SEND)) == 20


async def test_token_refreshed_before_expiry(tmp_path, fake, session):
    now = [1000.0]
    client = make_client(make_settings(tmp_path, base=fake.base_url), session, clock=lambda: now[0])
    await client.send_message(text_payload())
    now[0] += 7200 - 299  # within 5 minutes of expiry
    await client.send_message(text_payload())
    assert fake.token_issues == 2


async def test_expired_token_refreshed_once_and_retried(tmp_path, fake, session):
    client = make_client(make_settings(tmp_path, base=fake.base_url), session)
    await client.send_message(text_payload())
    fake.expire_tokens()
    answer = await client.send_message(text_payload())
    assert answer["errcode"] == 0
    assert fake.token_issues == 2 and len(fake.calls_to(SEND)) == 3
    assert fake.calls_to(SEND)[-1].query["access_token"] == "token-2"


async def test_scripted_42001_refreshes_once(tmp_path, fake, session):
    client = make_client(make_settings(tmp_path, base=fake.base_url), session)
    fake.queue(SEND, 42001)
    assert (await client.send_message(text_payload()))["errcode"] == 0
    assert fake.token_issues == 2 and len(fake.calls_to(SEND)) == 2


async def test_always_40014_gives_up_after_one_refresh(tmp_path, fake, session):
    client = make_client(make_settings(tmp_path, base=fake.base_url), session)
    fake.queue(SEND, *([40014] * 50))
    with pytest.raises(TransientSendError) as info:
        await client.send_message(text_payload())
    assert isinstance(info.value, WeComTransientError) and info.value.errcode == 40014
    assert len(fake.calls_to(SEND)) == 2 and fake.token_issues == 2


async def test_45009_backs_off_then_succeeds(tmp_path, fake, session):
    sleeps: list[float] = []

    async def record_sleep(delay: float) -> None:
        sleeps.append(delay)

    client = WeComClient(make_settings(tmp_path, base=fake.base_url), session, backoff_base=1.0, sleep=record_sleep)
    fake.queue(SEND, 45009, 45033)
    assert (await client.send_message(text_payload()))["errcode"] == 0
    assert len(fake.calls_to(SEND)) == 3 and len(sleeps) == 2
    assert 0.5 <= sleeps[0] <= 1.5 and 1.0 <= sleeps[1] <= 3.0  # exponential with jitter
    assert "enable_duplicate_check" not in fake.calls_to(SEND)[-1].json  # 45009: surely not sent


async def test_persistent_5xx_is_transient_after_bounded_attempts(tmp_path, fake, session):
    client = make_client(make_settings(tmp_path, base=fake.base_url), session, retries=4)
    fake.queue(SEND, *([http(502)] * 20))
    with pytest.raises(TransientSendError):
        await client.send_message(text_payload())
    assert len(fake.calls_to(SEND)) == 5


async def test_retry_after_ambiguous_failure_asks_for_duplicate_check(tmp_path, fake, session):
    client = make_client(make_settings(tmp_path, base=fake.base_url), session)
    fake.queue(SEND, http(504))
    await client.send_message(text_payload())
    first, second = fake.calls_to(SEND)
    assert "enable_duplicate_check" not in first.json
    assert second.json["enable_duplicate_check"] == 1 and second.json["duplicate_check_interval"] == 4 * 3600


async def test_connection_error_is_transient(tmp_path, session):
    client = make_client(make_settings(tmp_path, base="http://127.0.0.1:1"), session, retries=2)
    with pytest.raises(TransientSendError):
        await client.send_message(text_payload())


async def test_other_errcode_is_permanent(tmp_path, fake, session):
    client = make_client(make_settings(tmp_path, base=fake.base_url), session)
    fake.queue(SEND, 40058)
    with pytest.raises(PermanentSendError) as info:
        await client.send_message(text_payload())
    assert isinstance(info.value, WeComAPIError) and info.value.errcode == 40058
    assert "token-" not in str(info.value)
    assert len(fake.calls_to(SEND)) == 1


async def test_wrong_secret_is_permanent_without_loop(tmp_path, fake, session):
    client = make_client(make_settings(tmp_path, base=fake.base_url, secret="wrong"), session)
    with pytest.raises(WeComAPIError) as info:
        await client.send_message(text_payload())
    assert info.value.errcode == 40001
    assert len(fake.calls_to(GETTOKEN)) == 1 and fake.calls_to(SEND) == []


async def test_gettoken_5xx_retried(tmp_path, fake, session):
    client = make_client(make_settings(tmp_path, base=fake.base_url), session)
    fake.queue(GETTOKEN, http(503), 45033)
    assert (await client.send_message(text_payload()))["errcode"] == 0
    assert len(fake.calls_to(GETTOKEN)) == 3


async def test_media_roundtrip(tmp_path, fake, session):
    client = make_client(make_settings(tmp_path, base=fake.base_url), session)
    media_id = await client.upload_media("file", "成绩单 2026.xlsx", b"PK\x03\x04 spreadsheet")
    assert fake.uploads[0]["filename"] == "成绩单 2026.xlsx" and fake.uploads[0]["type"] == "file"
    data, filename, ctype = await client.get_media(media_id)
    assert data == b"PK\x03\x04 spreadsheet"
    with pytest.raises(WeComAPIError):
        await client.get_media("nope")
    with pytest.raises(PermanentSendError):
        await client.upload_media("image", "tiny.png", b"123")
    with pytest.raises(ValueError):
        await client.upload_media("exe", "x.exe", b"123456")


# -- sender ---------------------------------------------------------------------------------


async def test_sender_text_and_invalid_users(tmp_path, fake, session):
    sender = WeComSender(make_client(make_settings(tmp_path, base=fake.base_url), session))
    assert (sender.name, sender.max_batch) == ("wecom", 1000)
    fake.invalid_users = {"ghost"}
    result = await sender.send(["u1", "ghost", "u2"], OutboundMessage(kind="text", text="明天交材料"), dedup=False)
    assert result.invalid_users == ["ghost"]
    body = fake.calls_to(SEND)[0].json
    assert body["touser"] == "u1|ghost|u2" and body["agentid"] == 1000002
    assert "enable_duplicate_check" not in body
    assert [(m["userid"], m["content"]) for m in fake.sent_messages()] == [("u1", "明天交材料"), ("u2", "明天交材料")]


async def test_sender_all_invalid_is_permanent(tmp_path, fake, session):
    sender = WeComSender(make_client(make_settings(tmp_path, base=fake.base_url), session))
    fake.invalid_users = {"ghost"}
    with pytest.raises(PermanentSendError) as info:
        await sender.send(["ghost"], OutboundMessage(kind="text", text="x"), dedup=False)
    assert info.value.errcode == 81013


async def test_sender_refuses_more_than_1000(tmp_path, fake, session):
    sender = WeComSender(make_client(make_settings(tmp_path, base=fake.base_url), session))
    users = [f"u{i}" for i in range(1001)]
    with pytest.raises(BatchTooLargeError) as info:
        await sender.send(users, OutboundMessage(kind="text", text="x"), dedup=False)
    assert isinstance(info.value, PermanentSendError)
    assert fake.calls == []
    await sender.send(users[:1000], OutboundMessage(kind="text", text="x"), dedup=False)
    assert len(fake.sent_messages()) == 1000


async def test_sender_dedup_sets_duplicate_check(tmp_path, fake, session):
    """WeCom compares the whole request: only an identical resend of a checked request is dropped."""
    sender = WeComSender(make_client(make_settings(tmp_path, base=fake.base_url), session))
    message = OutboundMessage(kind="text", text="提醒：周五前提交")
    await sender.send(["u1", "u2"], message, dedup=True)
    await sender.send(["u1", "u2"], message, dedup=True)  # the same batch resent after a crash
    body = fake.calls_to(SEND)[-1].json
    assert body["enable_duplicate_check"] == 1 and body["duplicate_check_interval"] == 4 * 3600
    assert sorted(m["userid"] for m in fake.sent_messages()) == ["u1", "u2"]
    message.variant = 1  # a deliberate repeat of the same words
    await sender.send(["u1", "u2"], message, dedup=True)
    assert sorted(m["userid"] for m in fake.sent_messages()) == ["u1", "u1", "u2", "u2"]
    assert fake.sent_messages()[-1]["content"] == "提醒：周五前提交"


async def test_sender_card_and_update(tmp_path, fake, session):
    sender = WeComSender(make_client(make_settings(tmp_path, base=fake.base_url), session))
    card = Card(title="请假审批", description="张三 申请 5月1日 请假", fields=[("学号", "2024001")],
                buttons=[Button("同意", "task:12:approve"), Button("拒绝", "task:12:reject", style="danger")])
    await sender.send(["t1"], OutboundMessage(kind="card", card=card, card_id="task-12"), dedup=False)
    [sent] = fake.sent_messages()
    assert sent["msgtype"] == "template_card" and sent["card"]["task_id"] == "task-12"
    assert sent["card"]["button_list"][1] == {"text": "拒绝", "style": 3, "key": "task:12:reject"}

    update = OutboundMessage(kind="card_update", reply_ref="RC1", replace_name="已同意")
    result = await sender.send(["t1"], update, dedup=True)
    assert result.invalid_users == []
    [call] = fake.calls_to(UPDATE_CARD)
    assert call.json == {"userids": ["t1"], "agentid": 1000002, "response_code": "RC1",
                         "button": {"replace_name": "已同意"}}
    with pytest.raises(PermanentSendError):  # each response_code works once
        await sender.send(["t1"], update, dedup=True)


async def test_sender_bad_card_is_permanent(tmp_path, fake, session):
    sender = WeComSender(make_client(make_settings(tmp_path, base=fake.base_url), session))
    card = Card(title="x", buttons=[Button("好", "k")])
    with pytest.raises(PermanentSendError):
        await sender.send(["u1"], OutboundMessage(kind="card", card=card, card_id="bad id!"), dedup=False)
    assert fake.calls == []


# -- cards ------------------------------------------------------------------------------------


def test_text_truncated_at_utf8_boundary():
    text = "教务" * 2000  # 12000 bytes
    body = render(OutboundMessage(kind="text", text=text))
    content = body["text"]["content"]
    assert len(content.encode("utf-8")) <= TEXT_MAX_BYTES and content.endswith("…")
    assert text.startswith(content[:-1])
    assert truncate_utf8("a" + "é" * 2000, 10) == "aééé…"  # 1 + 6 + 3 bytes
    assert render(OutboundMessage(kind="markdown", text="**加粗**"))["markdown"]["content"] == "**加粗**"
    with pytest.raises(CardError):
        render(OutboundMessage(kind="text", text="  "))


def test_button_card_shape():
    card = Card(
        title="一个非常非常长的标题" * 5, description="说明",
        fields=[(f"字段{i}", f"值{i}") for i in range(8)],
        buttons=[Button("同意", "k1"), Button("一个超级长的按钮文字内容", "k2", style=9)],
        url="https://campus.example/upload?t=1", url_text="上传材料",
    )
    tc = render(OutboundMessage(kind="card", card=card, card_id="task_1-a@b"))["template_card"]
    assert tc["card_type"] == "button_interaction" and tc["task_id"] == "task_1-a@b"
    assert len(tc["main_title"]["title"]) <= 36
    assert len(tc["horizontal_content_list"]) == 6
    assert "字段6：值6" in tc["sub_title_text"] and "字段7：值7" in tc["sub_title_text"]
    assert all(len(f["keyname"]) <= 5 for f in tc["horizontal_content_list"])
    assert tc["button_list"][1]["style"] == 1 and len(tc["button_list"][1]["text"]) <= 10
    assert tc["jump_list"] == [{"type": 1, "title": "上传材料", "url": "https://campus.example/upload?t=1"}]
    assert tc["card_action"] == {"type": 1, "url": "https://campus.example/upload?t=1"}


def test_card_validation():
    buttons = [Button(str(i), f"k{i}") for i in range(7)]
    for task_id in ("", "has space", "中文", "x" * 129):
        with pytest.raises(CardError):
            render(OutboundMessage(kind="card", card=Card("t", buttons=buttons[:1]), card_id=task_id))
    with pytest.raises(CardError):
        render(OutboundMessage(kind="card", card=Card("t", buttons=buttons), card_id="t1"))
    with pytest.raises(CardError):
        render(OutboundMessage(kind="card", card=Card("t", buttons=[Button("a", "k" * 1025)]), card_id="t1"))
    with pytest.raises(CardError):
        render(OutboundMessage(kind="card_update", reply_ref="x"))


def test_link_card_is_text_notice_and_plain_card_is_text():
    link = render(OutboundMessage(kind="card", card=Card("上传入口", "点击上传", url="https://x.example/u")))
    tc = link["template_card"]
    assert tc["card_type"] == "text_notice" and tc["card_action"] == {"type": 1, "url": "https://x.example/u"}
    assert "task_id" not in tc and tc["jump_list"][0]["title"] == "查看详情"
    plain = render(OutboundMessage(kind="card", card=Card("通知", "内容", fields=[("时间", "周五")])))
    assert plain == {"msgtype": "text", "text": {"content": "通知\n内容\n时间：周五"}}


# -- what `serve` mounts -------------------------------------------------------------------


# The 教务处 console (bot/console/): GETs answer HEAD too; the demo's picker is a POST to /console/login.
CONSOLE_GETS = ("/console", "/console/login", "/console/login/qr", "/console/login/wecom", "/console/runs/{run_id}",
                "/console/files/{file_id}", "/console/runs/{run_id}/files.zip", "/console/adjust",
                "/console/adjust.xlsx", "/console/audit", "/console/notices", "/console/notices/{run_id}.xlsx",
                "/console/notices/new", "/console/notices/{run_id}", "/console/people", "/console/calendar",
                "/console/runs")
CONSOLE_POSTS = ("/console/login", "/console/logout", "/console/start", "/console/remind-overdue",
                 "/console/runs/{run_id}/{action}", "/console/tasks/{task_id}/reassign", "/console/notices/new",
                 "/console/notices/{run_id}/{action}", "/console/people/preview", "/console/people/apply",
                 "/console/calendar/timetable/preview", "/console/calendar/timetable/apply")
CONSOLE_ROUTES = ({(m, p) for p in CONSOLE_GETS for m in ("GET", "HEAD")} | {("POST", p) for p in CONSOLE_POSTS})


TIMETABLE_ROUTES = {("GET", "/timetable/template.xlsx"), ("HEAD", "/timetable/template.xlsx"),
                    ("GET", "/timetable/{n}"), ("HEAD", "/timetable/{n}"), ("POST", "/timetable/{n}")}


def test_serve_mounts_no_local_chat(tmp_path):
    """The local chat lets anyone send as anyone: `serve` never mounts it (nor its page or API)."""
    from bot.app import create_app

    settings = make_settings(tmp_path).model_copy(update={
        "database_url": f"sqlite+aiosqlite:///{tmp_path}/routes.db", "secret_key": "route-test-key-0123456789"})
    routes = sorted({(r.method, r.resource.canonical) for r in create_app(settings, "serve").router.routes()})
    paths = {path for _, path in routes}
    assert not [p for p in paths if p.startswith(("/devchat", "/api", "/chat"))], routes
    assert "/" not in paths
    assert routes == sorted({
        ("GET", "/wecom/callback"), ("POST", "/wecom/callback"), ("GET", "/oauth/wecom"),
        ("GET", "/upload/{task_id}"), ("POST", "/upload/{task_id}"), ("GET", "/record/{run_id}.xlsx"),
        ("GET", "/record/{run_id}"), ("GET", "/file/{file_id}"), ("GET", "/healthz"),
        ("HEAD", "/upload/{task_id}"), ("HEAD", "/record/{run_id}.xlsx"), ("HEAD", "/record/{run_id}"),
        ("HEAD", "/file/{file_id}"), ("HEAD", "/healthz"), ("HEAD", "/wecom/callback"), ("HEAD", "/oauth/wecom"),
        ("GET", "/upload/{task_id}/template.xlsx"), ("HEAD", "/upload/{task_id}/template.xlsx"),
        ("GET", "/files/{run_id}"), ("HEAD", "/files/{run_id}"),
        ("GET", "/files/{run_id}/{step_id}.zip"), ("HEAD", "/files/{run_id}/{step_id}.zip"),
    } | TIMETABLE_ROUTES | CONSOLE_ROUTES)
    demo = {r.resource.canonical for r in create_app(settings, "demo").router.routes()}
    assert "/" in demo and any(p.startswith("/devchat/api") for p in demo)  # the check above can fail


def test_serve_refuses_to_build_without_its_secret_key(tmp_path):
    from bot.app import create_app
    from bot.config import ConfigError

    with pytest.raises(ConfigError, match="CAMPUSBOT_SECRET_KEY"):
        create_app(make_settings(tmp_path), "serve")
    with pytest.raises(ConfigError, match="CAMPUSBOT_SECRET_KEY"):
        _ = make_settings(tmp_path).signing_key  # never derived from the WeCom secret
