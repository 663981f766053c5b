"""A platform is one folder: the protocol, the mounting loop, person_accounts both
ways, routing each recipient to the platform they use, and old outbox JSON."""
from __future__ import annotations

import json
import uuid
from collections import Counter
from dataclasses import fields

import pytest
from sqlalchemy import select

from bot import outbox
from bot.app import CORE, PLATFORMS, PLATFORMS_KEY, create_app
from bot.events import Event
from bot.outbound import Button, Card, OutboundMessage
from bot.platforms import devchat, dingtalk, wecom
from bot.platforms.base import Capabilities, HttpSessions, Platform, PlatformSender
from bot.seed import seed_demo
from bot.platforms.devchat.models import DevchatMessage
from models import Inbound, OutboxMessage, OutboxRecipient, PersonAccount
from tests.support.fakewecom import UPDATE_CARD
from tests.support.harness import WeComHarness

DANGER_CARD = OutboundMessage(kind="card", card_id="c1b1", card=Card(
    title="调课申请待审批", buttons=[Button("同意", "task:1:approve"), Button("驳回", "task:1:reject", "danger")]))


# --- the protocol ----------------------------------------------------------------------------


DINGTALK = {"dingtalk_client_id": "dingfakeapp0001", "dingtalk_client_secret": "s",
            "dingtalk_card_template_id": "campusbot-approval.schema"}


@pytest.mark.parametrize("module", [wecom, devchat, dingtalk], ids=["wecom", "devchat", "dingtalk"])
def test_each_platform_folder_has_one_entry_that_builds_a_platform(module, wecom_settings):
    wecom_settings = wecom_settings.model_copy(update=DINGTALK)
    app = create_app(wecom_settings, "demo", start_workers=False)
    platform = module.platform(wecom_settings, HttpSessions(), app[CORE])
    assert isinstance(platform, Platform) and isinstance(platform.sender, PlatformSender)
    assert platform.name == module.NAME == platform.sender.name
    assert isinstance(platform.capabilities, Capabilities)
    assert platform.capabilities.max_batch == platform.sender.max_batch
    assert module.configured(wecom_settings, "demo") is True


def test_each_card_renderer_maps_the_semantic_styles(wecom_settings):
    app = create_app(wecom_settings, "demo", start_workers=False)
    by_name = {p.name: p for p in app[PLATFORMS_KEY]}
    wire = by_name["wecom"].render_card(DANGER_CARD)["template_card"]
    assert [b["style"] for b in wire["button_list"]] == [1, 3] and wire["task_id"] == "c1b1"
    shown = by_name["devchat"].render_card(DANGER_CARD)["card"]
    assert [b["style"] for b in shown["buttons"]] == ["primary", "danger"]
    ding = dingtalk.platform(wecom_settings.model_copy(update=DINGTALK), HttpSessions(), app[CORE])
    params = ding.render_card(DANGER_CARD)["cardData"]["cardParamMap"]
    assert [b["color"] for b in json.loads(params["buttons"])] == ["blue", "red"]
    update = ding.render_card(OutboundMessage(kind="card_update", reply_ref="c1b1.sunlt", replace_name="已同意"))
    assert update["outTrackId"] == "c1b1.sunlt" and update["cardData"]["cardParamMap"]["buttons"] == "[]"


def test_neutral_messages_and_events_carry_no_platform_fields():
    for cls in (Event, OutboundMessage):
        names = {f.name for f in fields(cls)}
        assert not names & {"card_task_id", "response_code", "task_id"}, names


# --- the mounting loop -----------------------------------------------------------------------


def test_the_app_mounts_every_configured_platform_in_order(wecom_settings, tmp_path):
    assert [m.NAME for m in PLATFORMS] == ["devchat", "wecom", "dingtalk"]
    serve = create_app(wecom_settings, "serve", start_workers=False)
    assert [p.name for p in serve[PLATFORMS_KEY]] == ["wecom"] and list(serve[CORE].senders) == ["wecom"]
    demo = create_app(wecom_settings, "demo", start_workers=False)
    assert [p.name for p in demo[PLATFORMS_KEY]] == ["devchat", "wecom"]
    assert list(demo[CORE].senders) == ["devchat", "wecom"]
    bare = wecom_settings.model_copy(update={"wecom_secret": ""})  # WeCom's settings incomplete
    alone = create_app(bare, "demo", start_workers=False)
    assert [p.name for p in alone[PLATFORMS_KEY]] == ["devchat"]
    assert not [r for r in alone.router.routes() if r.resource.canonical.startswith("/wecom")]
    assert create_app(bare, "serve", start_workers=False)[PLATFORMS_KEY] == []


# --- person_accounts, both ways --------------------------------------------------------------


async def import_csv(core, tmp_path, text: str):
    from bot.directory import import_rows, read_rows

    path = tmp_path / f"people-{uuid.uuid4().hex[:6]}.csv"
    path.write_text(text, encoding="utf-8")
    async with core.db.session() as s:
        return await import_rows(s, read_rows(path))


async def accounts_of(core, userid: str) -> dict[str, str]:
    async with core.db.session() as s:
        rows = (await s.execute(select(PersonAccount).where(PersonAccount.userid == userid))).scalars()
        return {a.platform: a.account_id for a in rows}


async def test_import_creates_accounts_and_inbound_maps_them_to_our_userid(wecom, tmp_path):
    core = wecom.core
    assert await accounts_of(core, "sunlt") == {"wecom": "sunlt", "dingtalk": "sunlt", "devchat": "sunlt"}  # the defaults
    report = await import_csv(core, tmp_path, "userid,name,department,roles,wecom_userid,dingtalk_userid\n"
                                              "sunlt,孙丽婷,机电工程系,任课教师,SunLiTing,dt-0042\n"
                                              "hezq,何志强,机电工程系,任课教师,SunLiTing,\n")
    assert report.updated == 1 and report.refused == [(3, "wecom 账号 SunLiTing 已属于 sunlt")]
    assert await accounts_of(core, "sunlt") == {"wecom": "SunLiTing", "devchat": "sunlt", "dingtalk": "dt-0042"}

    await wecom.say("SunLiTing", "帮助")  # WeCom names the account; the bot knows her as sunlt
    async with core.db.session() as s:
        row = (await s.execute(select(Inbound).order_by(Inbound.id.desc()).limit(1))).scalar_one()
    assert row.userid == "sunlt" and row.payload["account_id"] == "SunLiTing"
    assert wecom.texts("SunLiTing") and not wecom.texts("sunlt")  # the answer goes to her account

    await wecom.say("sunlt", "帮助")  # her userid is no longer a WeCom account: a stranger, refused once
    await wecom.say("sunlt", "帮助")
    assert len(wecom.texts("sunlt")) == 1
    async with core.db.session() as s:
        strangers = (await s.execute(select(Inbound.userid).where(Inbound.userid.like("~%")))).scalars().all()
    assert strangers == ["~wecom:sunlt", "~wecom:sunlt"]


async def test_someone_with_no_account_on_a_mounted_platform_is_marked_not_lost(wecom, tmp_path):
    core = wecom.core
    await import_csv(core, tmp_path, "userid,name,department,roles\nzhaol,赵磊,机电工程系,任课教师\n")
    async with core.db.session() as s:
        await s.delete(await s.get(PersonAccount, ("wecom", "zhaol")))
        oid = (await outbox.enqueue(s, ["zhaol", "sunlt"], OutboundMessage(kind="text", text="期末考试安排已发布"))).id
    await core.drainer.drain_until_idle()
    async with core.db.session() as s:
        assert await outbox.delivery_counts(s, oid) == {"sent": 1, "invalid": 1}
    assert wecom.fake.delivery_counts() == Counter({"sunlt": 1})


# --- one person on two platforms -------------------------------------------------------------


@pytest.fixture
async def both(aiohttp_client, wecom_settings, fake_wecom):
    """The demo with WeCom configured too: everyone has a devchat and a wecom account."""
    app = create_app(wecom_settings, "demo", start_workers=False)
    client = await aiohttp_client(app)
    async with app[CORE].db.session() as s:
        await seed_demo(s)
    return WeComHarness(client, app[CORE], fake_wecom)


async def devchat_texts(core, userid: str) -> list[str]:
    async with core.db.session() as s:
        rows = (await s.execute(select(DevchatMessage).where(
            DevchatMessage.userid == userid, DevchatMessage.direction == "out").order_by(DevchatMessage.id))).scalars()
        return [r.message.get("text", "") for r in rows]


async def broadcast(core, userids: list[str], text: str) -> outbox.Queued:
    async with core.db.session() as s:
        return await outbox.enqueue(s, userids, OutboundMessage(kind="text", text=text))


async def test_each_message_goes_once_to_the_platform_the_person_last_wrote_from(both):
    core = both.core
    # Nobody has written yet: the first mounted platform (the local chat) carries it.
    await broadcast(core, ["sunlt", "chenzr"], "通知一")
    await core.settle()
    assert await devchat_texts(core, "sunlt") == ["通知一"] and await devchat_texts(core, "chenzr") == ["通知一"]
    assert both.fake.delivery_counts() == Counter()

    await both.say("sunlt", "帮助")  # she writes from WeCom: the answer and what follows go there
    assert both.texts("sunlt") and len(await devchat_texts(core, "sunlt")) == 1
    await broadcast(core, ["sunlt", "chenzr"], "通知二")
    await core.settle()
    assert [t for t in both.texts("sunlt") if t == "通知二"] == ["通知二"]
    assert "通知二" not in await devchat_texts(core, "sunlt")
    assert (await devchat_texts(core, "chenzr"))[-1] == "通知二" and not both.texts("chenzr")

    resp = await both.client.post("/devchat/api/send", json={"userid": "sunlt", "text": "帮助", "client_id": uuid.uuid4().hex})
    assert resp.status == 200
    await core.settle()
    n_wecom = len(both.texts("sunlt"))
    await broadcast(core, ["sunlt"], "通知三")  # back on the local chat
    await core.settle()
    assert (await devchat_texts(core, "sunlt"))[-1] == "通知三" and len(both.texts("sunlt")) == n_wecom
    async with core.db.session() as s:
        used = set((await s.execute(select(OutboxRecipient.platform).where(OutboxRecipient.userid == "sunlt"))).scalars())
    assert used == {"devchat", "wecom"}


# --- outbox rows stored before the neutral fields --------------------------------------------


def test_old_outbox_json_is_still_readable():
    card = OutboundMessage.from_json({
        "kind": "card", "text": "", "card_task_id": "", "response_code": "", "replace_name": "",
        "card": {"title": "请审批", "description": "", "fields": [["课程", "电工基础"]], "url": "", "url_text": "",
                 "buttons": [{"text": "同意", "key": "task:1:approve", "style": 1},
                             {"text": "驳回", "key": "task:1:reject", "style": 3}]}})
    assert [b.style for b in card.card.buttons] == ["primary", "danger"]
    wecom_update = OutboundMessage.from_json({"kind": "card_update", "card_task_id": "c1b2", "response_code": "RC9",
                                              "replace_name": "已同意"})
    assert wecom_update.reply_ref == "RC9"
    devchat_update = OutboundMessage.from_json({"kind": "card_update", "card_task_id": "c1b2", "response_code": "",
                                                "replace_name": "已同意"})
    assert devchat_update.reply_ref == "c1b2"
    event = Event.from_json({"platform": "wecom", "userid": "sunlt", "kind": "button", "dedup_key": "k",
                             "button_key": "task:1:approve", "card_task_id": "c1b2", "response_code": "RC9",
                             "created_at": "2026-12-01T08:00:00+00:00", "attachment": None})
    assert (event.reply_ref, event.account_id) == ("RC9", "sunlt")
    again = OutboundMessage.from_json(card.to_json())
    assert again == card and "card_task_id" not in card.to_json()


async def test_an_old_stored_card_update_is_still_sent(wecom):
    """A row written before the upgrade (and given its platform by the migration) goes out as before."""
    core = wecom.core
    async with core.db.session() as s:
        row = OutboxMessage(platform="wecom", body_hash="", variant=0, message={
            "kind": "card_update", "text": "", "card": None, "card_task_id": "c7b1", "response_code": "RC-old",
            "replace_name": "已同意"})
        s.add(row)
        await s.flush()
        s.add(OutboxRecipient(outbox_id=row.id, userid="sunlt", platform="wecom", next_attempt_at=outbox.DUE_NOW))
    await core.drainer.drain_until_idle()
    [call] = wecom.fake.calls_to(UPDATE_CARD)
    assert call.json["response_code"] == "RC-old" and call.json["userids"] == ["sunlt"]


async def test_the_migration_gives_every_existing_person_a_wecom_account(tmp_path):
    from alembic import command
    from sqlalchemy import text

    from bot.db import Database, alembic_config

    db = Database(f"sqlite+aiosqlite:///{tmp_path}/old.db")
    async with db.engine.begin() as conn:
        await conn.run_sync(lambda c: command.upgrade(alembic_config(c), "0003_run_owner"))
        await conn.execute(text("INSERT INTO people (userid, name, department, roles_text, classes_text, updated_at) "
                                "VALUES ('sunlt', '孙丽婷', '机电工程系', '任课教师', '', '2026-12-01')"))
    await db.upgrade()
    async with db.session() as s:
        rows = (await s.execute(select(PersonAccount))).scalars().all()
    assert [(a.platform, a.account_id, a.userid) for a in rows] == [("wecom", "sunlt", "sunlt")]
    await db.dispose()
