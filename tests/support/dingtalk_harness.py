"""A person's phone on DingTalk, for tests: robot messages and card taps in over the fake's
stream, what the fake DingTalk API received out (tests/support/fakedingtalk.py)."""
from __future__ import annotations

import itertools
import json
import time

from tests.support.fakedingtalk import AGENT_ID, TOPIC_CARD, TOPIC_ROBOT, FakeDingTalk
from tests.support.harness import PhoneView

CLIENT_ID, SECRET = "dingfakeapp0001", "ding-test-secret"
_msg_ids = itertools.count(int(time.time()) * 1000)


def dingtalk_settings(db_url, tmp_path, fake, **extra):
    """Only DingTalk configured, every DingTalk host the fake (the stream, v1.0 and oapi)."""
    from bot.config import Settings

    values = dict(database_url=db_url, data_dir=tmp_path / "data", public_url="http://campusbot.test",
                  secret_key="test-secret-key-0123456789", dingtalk_client_id=CLIENT_ID,
                  dingtalk_client_secret=SECRET, dingtalk_card_template_id="campusbot-approval.schema",
                  dingtalk_agent_id=AGENT_ID, dingtalk_api_base=fake.base_url, dingtalk_oapi_base=fake.base_url,
                  dingtalk_corp_id=fake.corp_id, dingtalk_jsapi_url=fake.base_url + "/dingtalk.open.js",
                  dingtalk_retry_base=0.01, dingtalk_reconnect_base=0.05,
                  dingtalk_reconnect_cap=0.4)
    values.update(extra)
    return Settings(**values)


class DingTalkHarness(PhoneView):
    """A person's phone on DingTalk: robot messages in over the stream, what the fake API received out."""

    def __init__(self, client, core, fake: FakeDingTalk):
        self.client, self.core, self.fake = client, core, fake

    async def push(self, topic: str, data: dict) -> dict:
        ack = await self.fake.push(topic, data)
        await self.fake.ping()  # frames are handled in order: once the ping is answered, the update is stored
        await self.core.settle()
        return ack

    async def say(self, userid: str, text: str, *, msg_id: str | None = None) -> dict:
        return await self.push(TOPIC_ROBOT, robot_message(userid, text, msg_id or f"msg{next(_msg_ids)}"))

    async def click(self, userid: str, card: dict, text: str) -> dict:
        """Tap a button as the card showed it when delivered (a stale client may still show it)."""
        buttons = json.loads(card["delivered"]["buttons"])
        action = next((b["action"] for b in buttons if b["text"] == text), None)
        assert action, f"no button {text!r} on {card['params']['title']}: {buttons}"
        return await self.push(TOPIC_CARD, card_callback(userid, card["outTrackId"], action))

    def sent_messages(self) -> list[dict]:
        return self.fake.sent_messages()


def robot_message(userid: str, text: str, msg_id: str) -> dict:
    return {"msgtype": "text", "text": {"content": text}, "msgId": msg_id, "createAt": int(time.time() * 1000),
            "conversationType": "1", "conversationId": f"cid-{userid}", "senderStaffId": userid,
            "senderId": "$:LWCP_v1:$enc", "senderNick": userid, "senderCorpId": "dingcorp",
            "robotCode": CLIENT_ID, "sessionWebhook": "http://127.0.0.1:9/none", "isInAtList": True}


def card_callback(userid: str, out_track_id: str, action: str) -> dict:
    content = {"cardPrivateData": {"actionIds": ["decision"], "params": {"action": action}}}
    return {"outTrackId": out_track_id, "userId": userid, "corpId": "dingcorp", "type": "actionCallback",
            "extension": "{}", "content": json.dumps(content)}


def card_text(card: dict) -> str:
    return card["params"]["title"] + "\n" + card["params"]["content"]
