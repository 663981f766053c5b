"""The local chat over real HTTP: the picker, text/click/image posts becoming
events, the bot's replies landing as rows the page polls, idempotent sends,
greyed-out cards, and 400s (in Chinese) for bad input."""
from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from aiohttp import FormData
from sqlalchemy import func, select

from bot.app import CORE, create_app
from bot.config import Settings
from bot.outbound import Button, Card, OutboundMessage
from bot.platforms.devchat import DevchatSender
from bot.platforms.devchat.models import DevchatMessage
from models import Inbound, Person
from tests.support.clock import school_clock
from tests.support.people import HEAD, TEACHER, seed

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       b"\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa75\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82")
CJK = re.compile(r"[\u4e00-\u9fff]")


class Phone:
    """What a browser tab does, as plain HTTP calls."""

    def __init__(self, client, core):
        self.client, self.core = client, core

    async def say(self, userid: str, text: str, client_id: str | None = None, settle: bool = True) -> dict:
        resp = await self.client.post("/devchat/api/send", json={
            "userid": userid, "text": text, "client_id": client_id or uuid.uuid4().hex})
        assert resp.status == 200, await resp.text()
        if settle:
            await self.core.settle()
        return await resp.json()

    async def click(self, userid: str, card: dict, text: str) -> dict:
        key = next(b["key"] for b in card["card"]["buttons"] if b["text"] == text)
        resp = await self.client.post("/devchat/api/click", json={
            "userid": userid, "key": key, "card_task_id": card["card_task_id"], "client_id": uuid.uuid4().hex})
        assert resp.status == 200, await resp.text()
        await self.core.settle()
        return await resp.json()

    async def poll(self, userid: str, after: int = 0) -> dict:
        resp = await self.client.get("/devchat/api/messages", params={"userid": userid, "after": str(after)})
        assert resp.status == 200, await resp.text()
        return await resp.json()

    async def shown(self, userid: str) -> list[dict]:
        return (await self.poll(userid))["messages"]

    async def bot_texts(self, userid: str) -> list[str]:
        return [m["text"] for m in await self.shown(userid) if m["direction"] == "out" and m["kind"] != "card"]

    async def last_card(self, userid: str) -> dict:
        cards = [m for m in await self.shown(userid) if m["kind"] == "card"]
        assert cards, f"{userid} has no card; texts: {await self.bot_texts(userid)}"
        return cards[-1]


@pytest.fixture
async def phone(aiohttp_client, tmp_path: Path) -> Phone:
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/t.db", data_dir=tmp_path)
    app = create_app(settings, mode="demo", start_workers=False, clock=school_clock())
    client = await aiohttp_client(app)
    await seed(app[CORE])
    return Phone(client, app[CORE])


async def count(core, model, *where) -> int:
    async with core.db.session() as s:
        return (await s.execute(select(func.count()).select_from(model).where(*where))).scalar_one()


async def assert_bad(resp, status: int = 400, code: str | None = None) -> dict:
    assert resp.status == status, await resp.text()
    assert resp.content_type == "application/json"
    body = await resp.json()
    assert body["ok"] is False and CJK.search(body["message"]), body
    if code:
        assert body["error"] == code, body
    return body


# --- pages -------------------------------------------------------------------------------------

async def test_picker_lists_directory_by_department(phone):
    resp = await phone.client.get("/")
    assert resp.status == 200
    html = await resp.text()
    assert "陈志荣" in html and "孙丽婷" in html and 'href="/chat/chenzr"' in html
    assert "机电工程系" in html and "系部主任" in html
    assert html.index("教务处") < html.index("机电工程系")  # the office first


async def test_chat_page_and_static_files(phone):
    resp = await phone.client.get(f"/chat/{TEACHER}")
    assert resp.status == 200
    html = await resp.text()
    assert "孙丽婷" in html and "发送" in html and "/devchat/static/chat.js" in html
    assert (await phone.client.get("/devchat/static/chat.js")).status == 200
    assert (await phone.client.get("/devchat/static/devchat.css")).status == 200
    stranger = await phone.client.get("/chat/nobody")
    assert stranger.status == 200 and "不在通讯录中" in await stranger.text()
    assert (await phone.client.get("/chat/bad%20id")).status == 400
    resp = await phone.client.get("/chat", params={"userid": TEACHER}, allow_redirects=False)
    assert resp.status == 302 and resp.headers["Location"] == f"/chat/{TEACHER}"


# --- text round trip ---------------------------------------------------------------------------

async def test_help_reply_appears_in_the_chat(phone):
    answer = await phone.say(TEACHER, "帮助")
    assert answer["ok"] and answer["accepted"]
    shown = await phone.shown(TEACHER)
    assert [m["direction"] for m in shown] == ["in", "out"]
    assert shown[0]["text"] == "帮助"
    assert "孙丽婷" in shown[1]["text"] and "帮助" in shown[1]["text"]
    # polling after the last id returns nothing new
    again = await phone.poll(TEACHER, after=shown[-1]["id"])
    assert again["messages"] == [] and again["last_id"] == shown[-1]["id"]
    # another person's phone stays empty
    assert await phone.shown(HEAD) == []


async def test_a_retried_post_is_shown_and_processed_once(phone):
    first = await phone.say(TEACHER, "帮助", client_id="retry-123456", settle=False)
    second = await phone.say(TEACHER, "帮助", client_id="retry-123456")
    assert first["accepted"] and not second["accepted"] and second["id"] is None
    assert await count(phone.core, DevchatMessage, DevchatMessage.userid == TEACHER, DevchatMessage.direction == "in") == 1
    assert await count(phone.core, Inbound, Inbound.dedup_key == "devchat:retry-123456") == 1
    assert len(await phone.bot_texts(TEACHER)) == 1


async def test_unknown_userid_is_refused_politely_once(phone):
    await phone.say("nobody", "帮助")
    await phone.say("nobody", "帮助")
    texts = await phone.bot_texts("nobody")
    assert len(texts) == 1 and "通讯录" in texts[0]
    assert "nobody" not in await (await phone.client.get("/")).text()


async def test_opening_an_empty_chat_sends_enter(phone):
    resp = await phone.client.post("/devchat/api/enter", json={"userid": TEACHER, "client_id": uuid.uuid4().hex})
    assert resp.status == 200
    await phone.core.settle()
    shown = await phone.shown(TEACHER)
    assert len(shown) == 1 and shown[0]["direction"] == "out" and "孙丽婷" in shown[0]["text"]


# --- the sender --------------------------------------------------------------------------------

def approval_card() -> OutboundMessage:
    return OutboundMessage(kind="card", card_id="c9r1", card=Card(
        title="调课申请待审批", description="孙丽婷 提交", fields=[("课程", "电工基础")],
        buttons=[Button("同意", "task:1:approve"), Button("驳回", "task:1:reject", "danger")],
        url="http://127.0.0.1/record/1", url_text="查看申请"))


async def test_send_is_idempotent_per_ref_and_user(phone):
    sender = DevchatSender(phone.core.db)
    msg = OutboundMessage(kind="text", text="您好")
    await sender.send([TEACHER, HEAD], msg, dedup=False, ref="77")
    await sender.send([TEACHER, HEAD], msg, dedup=True, ref="77")  # a resend after a crash
    await sender.send([TEACHER], msg, dedup=True, ref="78")  # a different outbox row
    assert await count(phone.core, DevchatMessage, DevchatMessage.userid == TEACHER) == 2
    assert await count(phone.core, DevchatMessage, DevchatMessage.userid == HEAD) == 1
    async with phone.core.db.session() as s:
        refs = (await s.execute(select(DevchatMessage.ref).order_by(DevchatMessage.id))).scalars().all()
    assert refs == [f"out:77:{TEACHER}", f"out:77:{HEAD}", f"out:78:{TEACHER}"]


async def test_card_update_greys_the_card_for_those_users(phone):
    sender = DevchatSender(phone.core.db)
    await sender.send([TEACHER, HEAD], approval_card(), dedup=False, ref="5")
    first = await phone.poll(HEAD)
    card = first["messages"][0]
    assert card["kind"] == "card" and card["card_task_id"] == "c9r1" and card["replaced"] == ""
    assert card["card"]["title"] == "调课申请待审批" and card["card"]["fields"] == [["课程", "电工基础"]]
    assert card["card"]["url"] and card["card"]["buttons"][1] == {"text": "驳回", "key": "task:1:reject", "style": "danger"}

    await sender.send([HEAD], OutboundMessage(kind="card_update", reply_ref="c9r1", replace_name="已同意"),
                      dedup=False, ref="6")
    # a page that already shows the card learns the new state from the poll
    later = await phone.poll(HEAD, after=first["last_id"])
    assert later["messages"] == [] and later["replaced"] == {str(card["id"]): "已同意"}
    # a fresh page gets it on the card itself; the other recipient's card is untouched
    assert (await phone.last_card(HEAD))["replaced"] == "已同意"
    assert (await phone.last_card(TEACHER))["replaced"] == ""


# --- card clicks -------------------------------------------------------------------------------

async def test_click_becomes_a_button_event_and_a_small_bubble(phone):
    await DevchatSender(phone.core.db).send([HEAD], approval_card(), dedup=False, ref="5")
    card = await phone.last_card(HEAD)
    resp = await phone.client.post("/devchat/api/click", json={
        "userid": HEAD, "key": "task:1:approve", "card_task_id": "c9r1", "client_id": "click-000001"})
    assert resp.status == 200, await resp.text()
    shown = await phone.shown(HEAD)
    assert shown[-1]["direction"] == "in" and shown[-1]["kind"] == "click" and shown[-1]["text"] == "点击了 同意"
    async with phone.core.db.session() as s:
        inbound = (await s.execute(select(Inbound).where(Inbound.dedup_key == "devchat:click-000001"))).scalar_one()
    assert inbound.payload["kind"] == "button" and inbound.payload["button_key"] == "task:1:approve"
    assert inbound.payload["reply_ref"] == "c9r1"  # devchat's reply reference: the clicked card

    base = {"userid": HEAD, "card_task_id": "c9r1", "client_id": uuid.uuid4().hex}
    await assert_bad(await phone.client.post("/devchat/api/click", json={**base, "key": "task:9:approve"}),
                     code="unknown_button")
    await assert_bad(await phone.client.post("/devchat/api/click", json={**base, "key": "x", "card_task_id": "nope"}),
                     code="unknown_card")
    await assert_bad(await phone.client.post("/devchat/api/click", json={**base, "key": "task:1:approve",
                                                                          "userid": TEACHER}), code="unknown_card")
    await DevchatSender(phone.core.db).send(
        [HEAD], OutboundMessage(kind="card_update", reply_ref=card["card_task_id"], replace_name="已同意"),
        dedup=False, ref="6")
    await assert_bad(await phone.client.post("/devchat/api/click", json={**base, "key": "task:1:approve"}),
                     status=409, code="card_done")


async def test_adjust_class_approved_from_the_chat(phone):
    """The 1.4 调课 form in the teacher's chat; the 系部主任 approves on their card."""
    async with phone.core.db.session() as s:
        if await s.get(Person, "huangfd") is None:
            pytest.skip("needs the demo directory (bot/seed.py) with classes")
    for text in ("调课", "电工基础", "机电2401", "12月3日 第3-4节", "实训楼A301", "12月4日 第1-2节", "不变",
                 "参加市级教学能力比赛"):
        await phone.say(TEACHER, text)
    assert "请核对调停课申请" in (await phone.bot_texts(TEACHER))[-1]
    await phone.say(TEACHER, "确认")
    assert "已提交" in (await phone.bot_texts(TEACHER))[-1]
    card = await phone.last_card(HEAD)
    assert "电工基础" in str(card["card"]) and card["replaced"] == ""
    await phone.click(HEAD, card, "同意")
    assert (await phone.last_card(HEAD))["replaced"].startswith("已由陈志荣同意 · ")  # who, and when
    assert any("已同意" in t for t in await phone.bot_texts(HEAD))


# --- images ------------------------------------------------------------------------------------

def image_form(userid: str = TEACHER, data: bytes = PNG, filename: str = "课表.png", client_id: str | None = None):
    form = FormData()
    form.add_field("userid", userid)
    form.add_field("client_id", client_id or uuid.uuid4().hex)
    form.add_field("file", data, filename=filename, content_type="image/png")
    return form


async def test_image_upload_stores_the_file_and_passes_an_attachment(phone, tmp_path: Path):
    resp = await phone.client.post("/devchat/api/image", data=image_form(client_id="img-0000001"))
    assert resp.status == 200, await resp.text()
    async with phone.core.db.session() as s:
        inbound = (await s.execute(select(Inbound).where(Inbound.dedup_key == "devchat:img-0000001"))).scalar_one()
    att = inbound.payload["attachment"]
    assert inbound.payload["kind"] == "image"
    assert att["filename"] == "课表.png" and att["size"] == len(PNG) and att["content_type"] == "image/png"
    path = Path(att["path"])
    assert path.read_bytes() == PNG and (tmp_path / "files" / "devchat").resolve() in path.parents

    shown = (await phone.shown(TEACHER))[-1]
    assert shown["kind"] == "image" and "path" not in shown
    got = await phone.client.get(shown["image_url"])
    assert got.status == 200 and await got.read() == PNG and got.content_type == "image/png"
    await phone.core.settle()  # the bot answers (no open upload: a polite note), without crashing
    assert (await phone.shown(TEACHER))[-1]["direction"] == "out"


async def test_image_upload_rejects_bad_input(phone):
    post = phone.client.post
    await assert_bad(await post("/devchat/api/image", data=image_form(data=b"%PDF-1.4 not an image")), code="not_image")
    await assert_bad(await post("/devchat/api/image", data=image_form(data=b"")), code="no_file")
    await assert_bad(await post("/devchat/api/image", data=image_form(userid="bad id")), code="bad_userid")
    no_file = FormData(default_to_multipart=True)
    no_file.add_field("userid", TEACHER)
    no_file.add_field("client_id", uuid.uuid4().hex)
    no_file.add_field("other", "x")
    await assert_bad(await post("/devchat/api/image", data=no_file), code="no_file")
    await assert_bad(await post("/devchat/api/image", json={"userid": TEACHER}), code="not_multipart")
    await assert_bad(await post("/devchat/api/image", data=b"--x\r\ngarbage",
                                headers={"Content-Type": "multipart/form-data; boundary=x"}))
    big = image_form(data=PNG + b"\0" * (10 * 1024 * 1024))
    await assert_bad(await post("/devchat/api/image", data=big), code="too_large")
    assert await count(phone.core, Inbound) == 0 and await count(phone.core, DevchatMessage) == 0


# --- bad input ---------------------------------------------------------------------------------

@pytest.mark.parametrize("body, code", [
    (b"not json", "bad_json"),
    (b"[1, 2]", "bad_json"),
    (b"\xff\xfe", "bad_json"),
    (b'{"text": "hi", "client_id": "abcdefgh"}', "bad_userid"),
    (b'{"userid": "a b", "text": "hi", "client_id": "abcdefgh"}', "bad_userid"),
    (b'{"userid": 5, "text": "hi", "client_id": "abcdefgh"}', "bad_userid"),
    (b'{"userid": "sunlt", "text": "hi"}', "bad_client_id"),
    (b'{"userid": "sunlt", "text": "hi", "client_id": "../../x"}', "bad_client_id"),
    (b'{"userid": "sunlt", "text": "   ", "client_id": "abcdefgh"}', "empty_text"),
    (b'{"userid": "sunlt", "text": 3, "client_id": "abcdefgh"}', "empty_text"),
])
async def test_send_rejects_bad_input(phone, body: bytes, code: str):
    resp = await phone.client.post("/devchat/api/send", data=body, headers={"Content-Type": "application/json"})
    await assert_bad(resp, code=code)
    assert await count(phone.core, Inbound) == 0


async def test_other_endpoints_reject_bad_input(phone):
    c = phone.client
    await assert_bad(await c.post("/devchat/api/send", json={
        "userid": TEACHER, "text": "字" * 2001, "client_id": "abcdefgh"}), code="too_long")
    await assert_bad(await c.get("/devchat/api/messages"), code="bad_userid")
    await assert_bad(await c.get("/devchat/api/messages", params={"userid": TEACHER, "after": "-1"}), code="bad_after")
    await assert_bad(await c.get("/devchat/api/messages", params={"userid": TEACHER, "after": "abc"}), code="bad_after")
    await assert_bad(await c.post("/devchat/api/click", json={"userid": TEACHER, "client_id": "abcdefgh",
                                                             "card_task_id": "c1"}), code="bad_key")
    await assert_bad(await c.post("/devchat/api/click", json={"userid": TEACHER, "client_id": "abcdefgh",
                                                             "key": "k"}), code="bad_card")
    await assert_bad(await c.post("/devchat/api/enter", data=b"{"), code="bad_json")
    await assert_bad(await c.get("/devchat/api/file/abc"), status=404, code="no_such_file")
    await assert_bad(await c.get("/devchat/api/file/999"), status=404, code="no_such_file")
    assert await count(phone.core, Inbound) == 0
