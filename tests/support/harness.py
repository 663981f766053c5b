"""Drives the bot over the real WeCom callback (real encryption) and reads what
the fake WeCom API received, as a person on a phone would see it."""
from __future__ import annotations

import itertools
import time
import uuid

from tests.support.fakewecom import FakeWeCom
from tests.support.wecom_helpers import enter_agent_xml, image_xml, signed_post, template_card_event_xml, text_xml

_msg_ids = itertools.count(int(time.time()) * 1000)


def pin_today(core, day) -> None:
    """Make handlers read ``day`` (Beijing) as today; the clock still ticks. For date-dependent forms."""
    from datetime import datetime, timedelta

    real = core.clock
    now = real()
    offset = datetime.combine(day, (now + timedelta(hours=8)).time()) - (now + timedelta(hours=8))
    core.clock = lambda: real() + offset


class PhoneView:
    """What each person's phone shows, from ``sent_messages()`` rows (fake WeCom's shape)."""

    def sent_messages(self) -> list[dict]:
        raise NotImplementedError

    def inbox(self, userid: str) -> list[dict]:
        return [m for m in self.sent_messages() if m["userid"] == userid]

    def texts(self, userid: str) -> list[str]:
        return [m["content"] for m in self.inbox(userid) if m["msgtype"] in ("text", "markdown")]

    def last_text(self, userid: str) -> str:
        texts = self.texts(userid)
        return texts[-1] if texts else ""

    def cards(self, userid: str) -> list[dict]:
        return [m["card"] for m in self.inbox(userid) if m["card"] is not None]

    def last_card(self, userid: str) -> dict:
        cards = self.cards(userid)
        assert cards, f"{userid} received no card; texts: {self.texts(userid)}"
        return cards[-1]


class WeComHarness(PhoneView):
    def __init__(self, client, core, fake: FakeWeCom):
        self.client = client
        self.core = core
        self.fake = fake

    async def post(self, xml: str, settle: bool = True) -> int:
        query, body = signed_post(xml)
        resp = await self.client.post("/wecom/callback", params=query, data=body)
        assert resp.status == 200, await resp.text()
        assert await resp.text() == ""
        if settle:
            await self.core.settle()
        return resp.status

    async def say(self, userid: str, text: str, *, msg_id: int | None = None) -> None:
        await self.post(text_xml(userid, text, msg_id or next(_msg_ids)))

    async def enter(self, userid: str) -> None:
        await self.post(enter_agent_xml(userid))

    async def image(self, userid: str, data: bytes, filename: str = "photo.jpg") -> None:
        media_id = uuid.uuid4().hex
        self.fake.add_media(media_id, data, filename)
        await self.post(image_xml(userid, media_id, next(_msg_ids)))

    async def click(self, userid: str, card: dict, text: str, *, response_code: str | None = None,
                    create_time: int | None = None) -> None:
        key = button_key(card, text)
        await self.post(template_card_event_xml(userid, key, card["task_id"], response_code or uuid.uuid4().hex,
                                                create_time=create_time))

    # ----- what people saw ---------------------------------------------------------
    def sent_messages(self) -> list[dict]:
        return self.fake.sent_messages()

    def mark(self) -> int:
        return len(self.fake.deliveries)

    def since(self, mark: int, userid: str | None = None) -> list[dict]:
        rows = self.fake.sent_messages()[mark:]
        return [r for r in rows if userid is None or r["userid"] == userid]


def button_key(card: dict, text: str) -> str:
    for b in card.get("button_list", []):
        if b["text"] == text:
            return b["key"]
    raise AssertionError(f"no button {text!r} on card {card.get('main_title')}: {card.get('button_list')}")


def card_text(card: dict) -> str:
    """Everything a person reads on a card, for assertions."""
    parts = [card.get("main_title", {}).get("title", ""), card.get("main_title", {}).get("desc", ""),
             card.get("sub_title_text", "")]
    parts += [f"{h.get('keyname', '')}:{h.get('value', '')}" for h in card.get("horizontal_content_list", [])]
    return "\n".join(parts)


def card_url(card: dict) -> str:
    """The link a card opens (upload page, record)."""
    return (card.get("card_action") or {}).get("url", "")


def local_path(url: str) -> str:
    """A card link made relative, for the test client."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.path + ("?" + parts.query if parts.query else "")


def settled(update: dict) -> str:
    """What an updated card shows where its buttons were: the final state of a whole-card update,
    or the greyed button's words."""
    card = update.get("template_card")
    return card["replace_text"] if card else update["button"]["replace_name"]
