"""DingTalk over its own protocol, against the fake DingTalk (tests/fakedingtalk.py): the stream's
ACKs, pings and disconnects, a reconnect storm held by the backoff, HTTP callback signs, dedup,
and 1.4 调停课 end to end with only DingTalk configured."""
from __future__ import annotations

import asyncio
import json
import os
import time
from datetime import date

import pytest
from sqlalchemy import select

from bot import notices
from models import Run
from tests.support.dingtalk_harness import (
    CLIENT_ID, SECRET, DingTalkHarness, card_callback, card_text, dingtalk_settings, robot_message,
)
from tests.support.fakedingtalk import TOPIC_CARD, TOPIC_ROBOT
from tests.support import flows
from tests.support.flows import compose as compose_notice

TEACHER, HEAD, OTHER_HEAD, LEADER = "sunlt", "chenzr", "xuhm", "zhaogm"
OFFICE = ("wangjw", "liuyf")
SECRETARY_IT = "guoyan"
TODAY = date(2026, 12, 3)


# ----- configuration -------------------------------------------------------------------------
def test_half_configured_dingtalk_is_named(tmp_path):
    from bot.config import ConfigError, Settings

    none = dict(wecom_corp_id="", wecom_agent_id="", wecom_secret="", wecom_token="", wecom_aes_key="",
                dingtalk_client_id="", dingtalk_client_secret="", dingtalk_card_template_id="",
                dingtalk_robot_code="", dingtalk_agent_id="")
    with pytest.raises(ConfigError, match="CAMPUSBOT_DINGTALK_CLIENT_SECRET"):
        Settings(**{**none, "dingtalk_client_id": "x"}).require_platforms()
    with pytest.raises(ConfigError, match="CAMPUSBOT_DINGTALK_CLIENT_ID"):
        Settings(**{**none, "dingtalk_agent_id": "1"}).require_platforms()
    with pytest.raises(ConfigError, match="no platform configured"):
        Settings(**none).require_platforms()
    dingtalk = {**none, "dingtalk_client_id": "x", "dingtalk_client_secret": "y", "dingtalk_card_template_id": "t"}
    assert Settings(**dingtalk).require_platforms() == ["dingtalk"]
    assert Settings(**dingtalk).dingtalk_robot == "x"
    assert Settings(**{**dingtalk, "dingtalk_robot_code": "r"}).dingtalk_robot == "r"


def test_serve_names_half_configured_dingtalk_in_one_line(tmp_path):
    from tests.support.processes import run

    r = run(["serve"], tmp_path, CAMPUSBOT_DINGTALK_CLIENT_ID=CLIENT_ID, CAMPUSBOT_SECRET_KEY="k" * 20)
    assert r.returncode == 2 and r.stderr.strip().count("\n") == 0, r.stderr
    assert "CAMPUSBOT_DINGTALK_CLIENT_SECRET" in r.stderr
    r = run(["serve"], tmp_path, CAMPUSBOT_DINGTALK_MODE="webhook")
    assert r.returncode == 2 and "CAMPUSBOT_DINGTALK_MODE" in r.stderr


# ----- stream protocol -----------------------------------------------------------------------
async def test_stream_acks_pings_and_reconnects_after_disconnect(dingtalk):
    fake = dingtalk.fake
    assert fake.subscriptions[0] == [{"type": "CALLBACK", "topic": TOPIC_ROBOT},
                                     {"type": "CALLBACK", "topic": TOPIC_CARD}]
    ack = await dingtalk.say(TEACHER, "帮助")
    assert ack["code"] == 200 and json.loads(ack["data"]) == {"response": {}}
    await fake.ping()
    opens = len(fake.opens)
    await fake.disconnect()
    await fake.wait_connected()
    assert len(fake.opens) == opens + 1
    await dingtalk.say(TEACHER, "帮助")  # the new connection carries updates
    assert len(dingtalk.texts(TEACHER)) == 2
    assert fake.bad_acks == []


async def test_reconnect_storm_stays_within_backoff(sqlite_url, tmp_path, fake_dingtalk, aiohttp_client):
    """The gateway drops every connection at once: opens grow like the backoff, not like a loop."""
    from bot.app import create_app

    fake = fake_dingtalk
    fake.storm = True
    base, cap, window = 0.05, 0.4, 2.0
    app = create_app(dingtalk_settings(sqlite_url, tmp_path, fake, dingtalk_reconnect_base=base,
                                       dingtalk_reconnect_cap=cap), "serve", start_workers=False)
    await aiohttp_client(app)
    started = time.monotonic()
    await asyncio.sleep(window)
    opens = [t for t in fake.opens if t - started <= window]
    # waits are ≥ half the ceiling: 0.025, 0.05, 0.1, 0.2, then ≥ 0.2 each — about a dozen at most in 2 s
    bound = 4 + window / (cap / 2) + 1
    print(f"storm: {len(opens)} opens in {window} s (bound {bound:.0f}; 0.24.3 made 12,240 in 2 s)")
    assert 3 <= len(opens) <= bound
    gaps = [b - a for a, b in zip(opens, opens[1:])]
    assert all(g >= base / 2 * 0.9 for g in gaps), gaps


async def test_dead_connection_is_noticed_by_keepalive(fake_dingtalk):
    """A peer that stops answering WebSocket pings is dropped and the stream opens a new connection."""
    from aiohttp import ClientSession

    from bot.platforms.dingtalk.stream import StreamClient

    fake = fake_dingtalk
    fake.silent = True
    updates = []

    async def on_update(topic, data):
        updates.append((topic, data))

    async with ClientSession() as session:
        stream = StreamClient(session, api_base=fake.base_url, client_id=CLIENT_ID, client_secret=SECRET,
                              on_update=on_update, backoff_base=0.05, backoff_cap=0.2, heartbeat=0.2)
        stream.start()
        try:
            for _ in range(100):
                if len(fake.connections) >= 2:
                    break
                await asyncio.sleep(0.05)
        finally:
            await stream.stop()
    assert len(fake.connections) >= 2, fake.connections


async def test_event_ack_echoes_its_data(dingtalk):
    ack = await dingtalk.fake.push("/v1.0/some/event", {"x": 1}, kind="EVENT")
    assert ack["code"] == 200 and json.loads(ack["data"]) == {"x": 1}


async def test_monthly_quota_keeps_the_message(dingtalk):
    from sqlalchemy import select

    from models import OutboxRecipient

    fake = dingtalk.fake
    fake.fail_next("/v1.0/robot/oToMessages/batchSend", 403, "90020")
    await dingtalk.say(TEACHER, "帮助")
    assert dingtalk.texts(TEACHER) == [] and len(fake.sends) == 0
    async with dingtalk.core.db.session() as s:
        rows = (await s.execute(select(OutboxRecipient).where(OutboxRecipient.userid == TEACHER))).scalars().all()
    assert [r.status for r in rows] == ["pending"], [(r.status, r.error) for r in rows]
    assert "quota" in rows[0].error


async def test_outbox_sends_at_most_20_users_a_call(dingtalk):
    from bot import outbox
    from bot.outbound import OutboundMessage

    from models import Person, PersonAccount

    users = [f"user{i:02d}" for i in range(45)]
    async with dingtalk.core.db.session() as s:
        s.add_all(Person(userid=u, name=f"教师{i}", department="机电工程系", roles_text="任课教师")
                  for i, u in enumerate(users))
        await s.flush()
        s.add_all(PersonAccount(platform="dingtalk", account_id=u, userid=u) for u in users)
    async with dingtalk.core.db.session() as s:
        await outbox.enqueue(s, users, OutboundMessage(kind="markdown", text="# 通知\n明天停电"))
    await dingtalk.core.settle()
    assert sorted(len(c["userIds"]) for c in dingtalk.fake.sends) == [5, 20, 20]
    assert {c["msgKey"] for c in dingtalk.fake.sends} == {"sampleMarkdown"}
    assert sorted(m["userid"] for m in dingtalk.sent_messages()) == users


async def test_sender_staff_id_is_an_account_mapped_to_our_userid(dingtalk):
    from sqlalchemy import select

    from bot import accounts
    from models import Inbound

    async with dingtalk.core.db.session() as s:
        await accounts.set_accounts(s, TEACHER, {"dingtalk": "dt-0042"})
    await dingtalk.say("dt-0042", "帮助")  # DingTalk names the account; the bot knows her as sunlt
    async with dingtalk.core.db.session() as s:
        row = (await s.execute(select(Inbound).order_by(Inbound.id.desc()).limit(1))).scalar_one()
    assert row.userid == TEACHER and row.payload["account_id"] == "dt-0042"
    assert dingtalk.texts("dt-0042") and not dingtalk.texts(TEACHER)  # the answer goes to her account
    await dingtalk.say(TEACHER, "帮助")  # her userid is no longer a DingTalk account: a stranger, refused once
    await dingtalk.say(TEACHER, "帮助")
    assert len(dingtalk.texts(TEACHER)) == 1


async def test_duplicate_msg_id_has_one_effect(dingtalk):
    await dingtalk.say(TEACHER, "帮助", msg_id="dup-777")
    n = len(dingtalk.texts(TEACHER))
    assert n == 1
    await dingtalk.say(TEACHER, "帮助", msg_id="dup-777")  # a late ACK's re-delivery
    assert len(dingtalk.texts(TEACHER)) == n


async def test_token_is_cached_and_refreshed_once_on_auth_error(dingtalk):
    fake = dingtalk.fake
    await dingtalk.say(TEACHER, "帮助")
    await dingtalk.say(TEACHER, "帮助")
    assert fake.token_calls == 1
    fake.expire_tokens()
    await dingtalk.say(TEACHER, "帮助")
    assert fake.token_calls == 2 and len(dingtalk.texts(TEACHER)) == 3


async def test_flow_control_is_retried(dingtalk):
    fake = dingtalk.fake
    fake.fail_next("/v1.0/robot/oToMessages/batchSend", 403, "90002")
    fake.fail_next("/v1.0/robot/oToMessages/batchSend", 502)
    await dingtalk.say(TEACHER, "帮助")
    assert len(dingtalk.texts(TEACHER)) == 1


# ----- HTTP callback mode --------------------------------------------------------------------
async def test_http_mode_checks_the_sign(aiohttp_client, sqlite_url, tmp_path, fake_dingtalk):
    from bot.app import CORE, create_app
    from bot.platforms.dingtalk.callback import sign
    from bot.seed import seed_demo

    app = create_app(dingtalk_settings(sqlite_url, tmp_path, fake_dingtalk, dingtalk_mode="http"), "serve",
                     start_workers=False)
    client = await aiohttp_client(app)
    async with app[CORE].db.session() as s:
        await seed_demo(s)
    body = json.dumps(robot_message(TEACHER, "帮助", "http-1"))
    now = str(int(time.time() * 1000))

    async def post(headers, data=body):
        return (await client.post("/dingtalk/callback", data=data, headers=headers)).status

    assert await post({"timestamp": now, "sign": sign(now, SECRET)}) == 200
    assert await post({"timestamp": now, "sign": sign(now, "wrong-secret")}) == 403
    assert await post({"timestamp": now}) == 403
    stale = str(int(time.time() * 1000) - 3601 * 1000)
    assert await post({"timestamp": stale, "sign": sign(stale, SECRET)}) == 403
    assert await post({"timestamp": "abc", "sign": sign("abc", SECRET)}) == 403
    assert await post({"timestamp": now, "sign": sign(now, SECRET)}, data=b"{not json") == 400
    assert await post({"timestamp": now, "sign": sign(now, SECRET)}, data=b"\xff\xfe") == 400
    assert await post({"timestamp": now, "sign": sign(now, SECRET)}, data=json.dumps({"msgId": "x"})) == 400
    assert not fake_dingtalk.opens  # http mode opens no stream
    await app[CORE].settle()
    assert len(DingTalkHarness(client, app[CORE], fake_dingtalk).texts(TEACHER)) == 1


async def test_http_mode_card_tap_dedups_on_card_person_action(aiohttp_client, sqlite_url, tmp_path, fake_dingtalk):
    from sqlalchemy import select

    from bot.app import CORE, create_app
    from bot.platforms.dingtalk.callback import sign
    from models import Inbound

    app = create_app(dingtalk_settings(sqlite_url, tmp_path, fake_dingtalk, dingtalk_mode="http"), "serve",
                     start_workers=False)
    client = await aiohttp_client(app)
    now = str(int(time.time() * 1000))
    headers = {"timestamp": now, "sign": sign(now, SECRET)}
    for action in ("task:7:approve", "task:7:approve", "task:7:reject"):
        body = json.dumps(card_callback(HEAD, "c1b1.chenzr", action))
        assert (await client.post("/dingtalk/callback", data=body, headers=headers)).status == 200
    async with app[CORE].db.session() as s:
        keys = (await s.execute(select(Inbound.dedup_key))).scalars().all()
    assert sorted(keys) == ["dingtalk:card:c1b1.chenzr:chenzr:task:7:approve",
                            "dingtalk:card:c1b1.chenzr:chenzr:task:7:reject"]


# ----- 1.4 调停课 over DingTalk -----------------------------------------------------------------
async def fill_form(w, userid=TEACHER):
    await w.say(userid, "调课")
    assert "课程" in w.last_text(userid)
    for answer in ("电工基础", "计网2401", "12月3日 第3-4节", "实训楼A301", "12月4日 第1-2节", "不变",
                   "参加市级教学能力比赛"):
        await w.say(userid, answer)
    summary = w.last_text(userid)
    assert "请核对调停课申请" in summary and "电工基础" in summary


async def test_adjust_class_walk_over_dingtalk(dingtalk):
    w = dingtalk
    await fill_form(w)
    await w.say(TEACHER, "确认")
    assert "已提交" in w.last_text(TEACHER)
    card = w.last_card(HEAD)
    assert card["template"] == "campusbot-approval.schema" and card["callbackType"] == "STREAM"
    assert "待审批" in card["params"]["title"] and "电工基础" in card_text(card)
    assert {b["text"] for b in json.loads(card["params"]["buttons"])} >= {"同意", "驳回"}
    assert not w.cards(OTHER_HEAD)

    await w.click(OTHER_HEAD, card, "同意")  # a wrong approver, even with the right card and key
    assert "不由您处理" in w.last_text(OTHER_HEAD)

    await w.click(HEAD, card, "同意")
    update = w.fake.card_updates[-1]
    assert update["outTrackId"] == card["outTrackId"]
    assert card["params"]["status"].startswith("已由陈志荣同意 · ") and card["params"]["buttons"] == "[]"  # in place
    assert "已同意" in w.last_text(HEAD)
    before = len(w.texts(HEAD))
    await w.click(HEAD, card, "同意")  # the same tap delivered again: one effect
    assert len(w.texts(HEAD)) == before and len(w.cards(LEADER)) == 1

    leader_card = w.last_card(LEADER)
    assert "陈志荣" in card_text(leader_card)
    await w.click(LEADER, leader_card, "同意")

    task_card = w.last_card(OFFICE[0])
    shared = w.last_card(OFFICE[1])  # the same task, shared by 教务处
    assert "教务处调整课表" in card_text(task_card)
    await w.click(OFFICE[0], task_card, "办结")
    assert shared["params"]["status"].startswith("已由王建伟办结 · ") and shared["params"]["buttons"] == "[]"
    record_card = w.last_card(OFFICE[0])
    assert "教务处盖章记录表" in card_text(record_card)
    assert record_card["params"]["url"].startswith("http://campusbot.test/record/")
    await w.click(OFFICE[0], record_card, "办结")

    confirm = w.cards(SECRETARY_IT)[-1]
    await w.click(SECRETARY_IT, confirm, "确认已通知")
    # the teacher heard each decision once, and last that it is done, with the record
    joined = "\n".join(w.texts(TEACHER))
    for words in ("陈志荣已同意", "赵国民已同意"):
        assert words in joined, words
    last = w.inbox(TEACHER)[-1]
    assert "已办结" in last["content"] and "领取纸质调停课记录表" in last["content"] and "已全部办结" not in joined
    assert w.fake.bad_acks == []
    assert all(len(s["userIds"]) <= 20 for s in w.fake.sends)


async def test_campusbot_serve_with_only_dingtalk(tmp_path, fake_dingtalk):
    """The real `campusbot serve` process, only DingTalk configured: it opens the stream, takes a robot
    message and answers through the robot API."""
    from tests.support.processes import Server, _free_port

    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMPUSBOT_")}
    port = _free_port()
    env.update({"CAMPUSBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/serve.db", "CAMPUSBOT_PORT": str(port),
                "CAMPUSBOT_SECRET_KEY": "cli-test-secret-key-0123456789", "CAMPUSBOT_DINGTALK_CLIENT_ID": CLIENT_ID,
                "CAMPUSBOT_DINGTALK_CLIENT_SECRET": SECRET, "CAMPUSBOT_DINGTALK_CARD_TEMPLATE_ID": "tpl",
                "CAMPUSBOT_DINGTALK_API_BASE": fake_dingtalk.base_url})
    server = Server(["serve"], tmp_path, env, port)
    await asyncio.to_thread(server.__enter__)
    try:
        await fake_dingtalk.wait_connected(timeout=30)
        await fake_dingtalk.push(TOPIC_ROBOT, robot_message("nobody", "你好", "serve-1"))
        for _ in range(200):
            if fake_dingtalk.sent_messages():
                break
            await asyncio.sleep(0.05)
    finally:
        await asyncio.to_thread(server.__exit__, None, None, None)
    sent = fake_dingtalk.sent_messages()
    assert [m["userid"] for m in sent] == ["nobody"], server.log()
    assert "通讯录" in sent[0]["content"]


async def test_a_withdrawn_notice_sets_each_card_to_withdrawn(dingtalk):
    """撤回 (the console's, bot/notices.py): every DingTalk card of the notice is updated in place."""
    w = dingtalk
    await compose_notice(w, text="请核对下周监考安排", audience="所有教学秘书")
    cards = {u: w.last_card(u) for u in ("linms", SECRETARY_IT)}
    assert all("监考安排" in card_text(c) for c in cards.values())
    async with w.core.db.session() as s:
        run = (await s.execute(select(Run).where(Run.code == "notice"))).scalar_one()
        assert await notices.withdraw(s, w.core, run)
    await w.core.settle()
    updated = {u["outTrackId"] for u in w.fake.card_updates}
    assert {c["outTrackId"] for c in cards.values()} <= updated
    assert all(c["params"]["status"] == "已撤回" and c["params"]["buttons"] == "[]" for c in cards.values())


async def test_notice_progress_shows_who_read_the_work_notification(dingtalk):
    """A 通知 goes out as the robot card (确认收到 still works) and as a 工作通知 whose task_id is kept;
    进度 asks getsendresult and shows 已读/未读 beside 已确认."""
    w = dingtalk
    await compose_notice(w, text="请核对下周监考安排", audience="所有教学秘书")
    async with w.core.db.session() as s:
        run = (await s.execute(select(Run).where(Run.code == "notice"))).scalar_one()
    recipients = run.data["recipients"]
    assert len(recipients) >= 3
    [notice] = w.fake.work_notices.values()
    assert sorted(notice["userids"]) == sorted(recipients)
    assert run.record_no in notice["msg"]["text"]["content"] and "确认收到" in notice["msg"]["text"]["content"]
    readers = [SECRETARY_IT, next(u for u in recipients if u != SECRETARY_IT)]
    w.fake.mark_read(*readers)
    await w.click(SECRETARY_IT, w.last_card(SECRETARY_IT), "确认收到")
    await w.say(flows.NOTICE_OFFICE, "进度")
    progress = w.last_text(flows.NOTICE_OFFICE)
    assert f"已确认 1/{len(recipients)}，已读 2，未读 {len(recipients) - 2}\n" in progress, progress
    assert "信息工程系：已确认 1，未确认 0；已读 1，未读 0" in progress, progress
