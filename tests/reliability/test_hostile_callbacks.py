"""Hostile bodies against ``POST /wecom/callback`` of the app as ``serve`` builds it, over real HTTP.

Each attack is sent twice where it matters: as the outer envelope (as anyone on the internet can),
and sealed inside a genuine envelope — encrypted with the real WXBizMsgCrypt key and correctly
signed — so that it reaches the message parser behind the crypto. Every answer must be 400, 403
or 413, never 5xx, nothing may be stored, and each must come back quickly (the bound is generous;
the figures are printed).
"""
from __future__ import annotations

import base64
import time
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import func, select
from wechatpy.enterprise.crypto import PrpCrypto

from bot.app import CORE, create_app
from bot.config import Settings
from bot.platforms.wecom.crypto import compute_signature
from models import Inbound
from tests.support import wecom_helpers as h

PATH = "/wecom/callback"
QUICK = 2.0  # seconds per hostile request; measured figures are far below (printed)
TEN_MB = 10 * 1024 * 1024

LAUGHS = "".join(
    f'<!ENTITY lol{i} "{("&lol%d;" % (i - 1)) * 10}">' for i in range(1, 10)
)
BILLION_LAUGHS = f'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY lol0 "lol">{LAUGHS}]>'
XXE_DTD = '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
XXE_PARAM = ('<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY % ext SYSTEM "file:///etc/passwd"> %ext;]>')
XXE_EXTERNAL_DTD = '<?xml version="1.0"?><!DOCTYPE xml SYSTEM "http://127.0.0.1:9/evil.dtd">'


def message(body: str, prolog: str = "") -> str:
    return (f"{prolog}<xml><ToUserName>{h.CORP_ID}</ToUserName><FromUserName>u1</FromUserName>"
            f"<CreateTime>{int(time.time())}</CreateTime><MsgType>text</MsgType><Content>{body}</Content>"
            f"<MsgId>1234567</MsgId><AgentID>{h.AGENT_ID}</AgentID></xml>")


def nested(depth: int) -> str:
    return "<a>" * depth + "x" + "</a>" * depth


def sealed(plaintext: bytes | str, *, corp_id: str = h.CORP_ID) -> tuple[dict, bytes]:
    """A genuine callback (real AES and signature) carrying exactly these plaintext bytes."""
    key = base64.b64decode(h.AES_KEY + "=")
    encrypt = PrpCrypto(key).encrypt(plaintext, corp_id)
    encrypt = encrypt.decode() if isinstance(encrypt, bytes) else encrypt
    timestamp, nonce = str(int(time.time())), "n0nce"
    sig = compute_signature(h.TOKEN, timestamp, nonce, encrypt)
    return {"msg_signature": sig, "timestamp": timestamp, "nonce": nonce}, h.envelope(encrypt)


def signed_query(body: bytes) -> dict:
    """A well-formed, fresh query (its signature cannot match a junk body, which is refused before)."""
    timestamp = str(int(time.time()))
    return {"msg_signature": compute_signature(h.TOKEN, timestamp, "n", "x"), "timestamp": timestamp, "nonce": "n"}


def outside() -> list[tuple[str, dict, bytes]]:
    q = signed_query(b"")
    envelope_tail = f"<xml><ToUserName>{h.CORP_ID}</ToUserName><Encrypt>&lol9;</Encrypt></xml>"
    return [
        ("billion laughs", q, (BILLION_LAUGHS + envelope_tail).encode()),
        ("xxe file:///etc/passwd", q, (XXE_DTD + "<xml><Encrypt>&xxe;</Encrypt></xml>").encode()),
        ("xxe parameter entity", q, (XXE_PARAM + "<xml><Encrypt>x</Encrypt></xml>").encode()),
        ("xxe external dtd", q, (XXE_EXTERNAL_DTD + "<xml><Encrypt>x</Encrypt></xml>").encode()),
        ("deep nesting 8,000", q, f"<xml><Encrypt>{nested(8000)}</Encrypt></xml>".encode()),
        ("deep nesting, unclosed", q, ("<xml>" + "<a>" * 15000).encode()),
        ("deep nesting 50,000 (over the size cap)", q, f"<xml><Encrypt>{nested(50000)}</Encrypt></xml>".encode()),
        ("invalid utf-8", q, b"<xml><Encrypt>\xff\xfe\xc3\x28</Encrypt></xml>"),
        ("invalid utf-8 declared latin-1", q,
         b'<?xml version="1.0" encoding="utf-8"?><xml><Encrypt>\xe9\x80</Encrypt></xml>'),
        ("10 MB", q, b"<xml><Encrypt>" + b"A" * TEN_MB + b"</Encrypt></xml>"),
    ]


def inside() -> list[tuple[str, dict, bytes]]:
    return [
        ("sealed billion laughs", *sealed(message("&lol9;", BILLION_LAUGHS))),
        ("sealed xxe file:///etc/passwd", *sealed(message("&xxe;", XXE_DTD))),
        ("sealed xxe parameter entity", *sealed(message("x", XXE_PARAM))),
        ("sealed xxe external dtd", *sealed(message("x", XXE_EXTERNAL_DTD))),
        ("sealed deep nesting 6,000", *sealed(message(nested(6000)))),
        ("sealed deep nesting in the root", *sealed("<xml>" + nested(6000) + "</xml>")),
        ("sealed invalid utf-8", *sealed(message("x").encode().replace(b"<Content>x", b"<Content>\xff\xfe\xc3\x28"))),
        ("sealed overlong utf-8 '<'", *sealed(b"\xc0\xbcxml>x</xml>")),
        ("sealed 10 MB", *sealed(message("A" * TEN_MB))),
    ]


@pytest.fixture
async def serve_client(aiohttp_client, tmp_path: Path):
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/hostile.db", data_dir=tmp_path / "data",
        wecom_corp_id=h.CORP_ID, wecom_agent_id=h.AGENT_ID, wecom_secret="s", wecom_token=h.TOKEN,
        wecom_aes_key=h.AES_KEY, wecom_api_base="http://127.0.0.1:9", secret_key="hostile-test-key-0123456789",
    )
    app = create_app(settings, "serve", start_workers=False)
    return await aiohttp_client(app), app[CORE]


async def stored(core) -> int:
    async with core.db.session() as s:
        return (await s.execute(select(func.count(Inbound.id)))).scalar_one()


async def test_hostile_callbacks_are_refused_quickly(serve_client):
    client, core = serve_client
    figures, failures = [], []
    for label, query, body in outside() + inside():
        started = time.perf_counter()
        try:
            resp = await client.post(PATH, params=query, data=body)
            status = resp.status
            await resp.read()
        except aiohttp.ClientError as exc:  # the server may close a refused upload early; never a 5xx
            status = f"{type(exc).__name__}"
        took = time.perf_counter() - started
        figures.append((label, len(body), status, took))
        if status not in (400, 403, 413) or took > QUICK:
            failures.append((label, status, round(took, 3)))
    print(f"\n  {'hostile callback':40} {'body bytes':>10}  status  seconds")
    for label, size, status, took in figures:
        print(f"  {label:40} {size:>10}  {status}     {took:.3f}")
    print(f"  worst: {max(t for *_, t in figures):.3f} s")
    assert failures == []
    assert await stored(core) == 0
    # the sealed ones really reached the parser: the same envelope with a harmless message is accepted
    ok = await client.post(PATH, params=(good := sealed(message("你好")))[0], data=good[1])
    assert ok.status == 200 and await stored(core) == 1


async def test_ten_megabytes_are_refused_before_they_are_read(serve_client):
    """413 from the declared length, and from a chunked body too (no length declared)."""
    client, _ = serve_client
    resp = await client.post(PATH, params=signed_query(b""), data=b"A" * TEN_MB)
    assert resp.status == 413

    async def chunks():
        for _ in range(160):
            yield b"B" * 65536

    resp = await client.post(PATH, params=signed_query(b""), data=chunks())
    assert resp.status == 413


async def test_the_callback_still_answers_after_the_attacks(serve_client):
    client, core = serve_client
    for label, query, body in inside():
        if len(body) < 1 << 20:
            await client.post(PATH, params=query, data=body)
    query, body = h.signed_post(h.text_xml("u1", "你好"))
    resp = await client.post(PATH, params=query, data=body)
    assert resp.status == 200 and await stored(core) == 1


async def test_the_deepest_genuine_event_passes_the_shape_check(serve_client):
    """A card event with a selection is the deepest XML WeCom sends (5 levels): still accepted."""
    client, core = serve_client
    deepest = (f"<xml><ToUserName>{h.CORP_ID}</ToUserName><FromUserName>u1</FromUserName>"
               f"<CreateTime>{int(time.time())}</CreateTime><MsgType>event</MsgType>"
               "<Event>template_card_event</Event><EventKey>task:1:approve</EventKey><TaskId>t1</TaskId>"
               "<CardType>vote_interaction</CardType><ResponseCode>rc</ResponseCode>"
               f"<AgentID>{h.AGENT_ID}</AgentID><SelectedItems><SelectedItem><QuestionKey>q</QuestionKey>"
               "<OptionIds><OptionId>a</OptionId><OptionId>b</OptionId></OptionIds></SelectedItem>"
               "</SelectedItems></xml>")
    query, body = sealed(deepest)
    resp = await client.post(PATH, params=query, data=body)
    assert resp.status == 200 and await stored(core) == 1
