"""Drives the bot over the local chat's HTTP API (``campusbot demo``) with the
same interface as :class:`tests.support.harness.WeComHarness`, so a test written for
WeCom runs unchanged in the local chat.

Every action is a real post to ``/devchat/api/send|click|image|enter``; what
people saw is read back the way the chat page reads it, by polling
``/devchat/api/messages`` (with ``after``, so greyed-out cards come back too).
The polling happens after each settle (``harness.core.settle()`` too, so the
signed-page helpers that settle by themselves see fresh messages), which lets
``inbox``/``cards``/``texts`` stay synchronous like WeCom's. Only chats the
devchat sender wrote to are polled (see :class:`Doorbell`).

Cards come back in WeCom's ``template_card`` shape (see :func:`wecom_card`),
so drivers and assertions written against WeCom read them unchanged.
"""
from __future__ import annotations

import uuid

from aiohttp import FormData

from tests.support.harness import PhoneView, button_key

PAGE = 200  # bot.platforms.devchat.api.PAGE: a poll answer this long may have more behind it


def wecom_card(item: dict) -> dict:
    """A devchat card row (as ``/devchat/api/messages`` gives it) in WeCom's template_card shape.

    Nothing is clipped (the chat page shows every character); ``replaced`` is the
    devchat-only greyed-out button text, "" while the card can still be clicked.
    """
    c = item.get("card") or {}
    buttons = c.get("buttons") or []
    card: dict = {"card_type": "button_interaction" if buttons else "text_notice",
                  "main_title": {"title": c.get("title", "")}}
    if item.get("card_task_id"):
        card["task_id"] = item["card_task_id"]
    if c.get("description"):
        card["sub_title_text"] = c["description"]
    if c.get("fields"):
        card["horizontal_content_list"] = [{"keyname": str(k), "value": str(v)} for k, v in c["fields"]]
    if c.get("url"):
        card["jump_list"] = [{"type": 1, "title": c.get("url_text") or "查看详情", "url": c["url"]}]
        card["card_action"] = {"type": 1, "url": c["url"]}
    if buttons:
        wecom_style = {"primary": 1, "secondary": 2, "danger": 3, "link": 4}
        card["button_list"] = [{"text": b["text"], "style": wecom_style[b.get("style", "primary")], "key": b["key"]}
                               for b in buttons]
    card["replaced"] = item.get("replaced", "")
    return card


class Doorbell:
    """The devchat sender, unchanged, also noting whose chat it wrote to: the harness polls only those
    chats (as each person's open tab would notice), instead of every chat after every settle."""

    def __init__(self, sender, ring) -> None:
        self._sender, self._ring = sender, ring
        self.name, self.max_batch = sender.name, sender.max_batch

    async def send(self, userids, message, *, dedup, ref=""):
        result = await self._sender.send(userids, message, dedup=dedup, ref=ref)
        self._ring(userids)
        return result


class SettlingCore:
    """The bot core, whose ``settle()`` then polls the chats the bot wrote to (everything else is the core's)."""

    def __init__(self, core, after_settle) -> None:
        self._core = core
        self._after_settle = after_settle

    async def settle(self) -> None:
        await self._core.settle()
        await self._after_settle()

    def __getattr__(self, name: str):
        return getattr(self._core, name)


class DevchatHarness(PhoneView):
    def __init__(self, client, core):
        self.client = client
        self.core = SettlingCore(core, self.poll)
        self._after: dict[str, int] = {}  # userid -> last row id polled
        self._rows: dict[int, dict] = {}  # row id -> inbox row (the bot's messages only)
        self._dirty: set[str] = set()  # chats the bot wrote to since the last poll
        core.senders["devchat"] = Doorbell(core.senders["devchat"], self._dirty.update)

    # ----- what a person does in the chat ------------------------------------------------------
    async def post(self, path: str, *, settle: bool = True, ok: bool = True, **kwargs) -> dict:
        resp = await self.client.post(path, **kwargs)
        assert resp.content_type == "application/json", (path, resp.status, await resp.text())
        body = await resp.json()
        if ok:
            assert resp.status == 200 and body["ok"], (path, resp.status, body)
        if settle:
            await self.core.settle()
        return body

    async def say(self, userid: str, text: str, *, client_id: str | None = None) -> dict:
        return await self.post("/devchat/api/send", json={
            "userid": userid, "text": text, "client_id": client_id or uuid.uuid4().hex})

    async def enter(self, userid: str) -> dict:
        return await self.post("/devchat/api/enter", json={"userid": userid, "client_id": uuid.uuid4().hex})

    async def image(self, userid: str, data: bytes, filename: str = "photo.jpg") -> dict:
        form = FormData()
        form.add_field("userid", userid)
        form.add_field("client_id", uuid.uuid4().hex)
        form.add_field("file", data, filename=filename, content_type="application/octet-stream")
        return await self.post("/devchat/api/image", data=form)

    async def click(self, userid: str, card: dict, text: str, *, response_code: str | None = None,
                    create_time: int | None = None, ok: bool = True) -> dict:
        """Tap a button. ``response_code``/``create_time`` are WeCom's and have no devchat meaning.

        The chat refuses a greyed-out card (409 ``card_done``); pass ``ok=False`` to get that answer.
        """
        return await self.post("/devchat/api/click", ok=ok, json={
            "userid": userid, "key": button_key(card, text), "card_task_id": card["task_id"],
            "client_id": uuid.uuid4().hex})

    # ----- reading the chats, as the page polls them ---------------------------------------------
    async def poll(self) -> None:
        """Fetch what is new in each chat the bot wrote to (new messages, cards greyed out)."""
        dirty = sorted(self._dirty)
        self._dirty.clear()
        for userid in dirty:
            self._after.setdefault(userid, 0)
            await self._poll_one(userid)

    async def _poll_one(self, userid: str) -> None:
        while True:
            after = self._after[userid]
            resp = await self.client.get("/devchat/api/messages", params={"userid": userid, "after": str(after)})
            body = await resp.json()
            assert resp.status == 200 and body["ok"], body
            for row_id, text in body["replaced"].items():
                if int(row_id) in self._rows and self._rows[int(row_id)]["card"] is not None:
                    self._rows[int(row_id)]["card"]["replaced"] = text
            for m in body["messages"]:
                if m["direction"] == "out":
                    self._rows[m["id"]] = _inbox_row(userid, m)
            self._after[userid] = body["last_id"]
            if len(body["messages"]) < PAGE:
                return
            assert after, f"{userid}: more than {PAGE} messages before the first poll"

    # ----- what people saw (WeComHarness's interface) ------------------------------------------------
    def sent_messages(self) -> list[dict]:
        """The bot's messages to everyone, oldest first, in fake WeCom's row shape."""
        return [self._rows[i] for i in sorted(self._rows)]

    def mark(self) -> int:
        return max(self._rows, default=0)

    def since(self, mark: int, userid: str | None = None) -> list[dict]:
        return [r for r in self.sent_messages() if r["id"] > mark and (userid is None or r["userid"] == userid)]


def _inbox_row(userid: str, m: dict) -> dict:
    """One polled row like ``FakeWeCom.sent_messages()``: userid, msgtype, content, card, body (+ id)."""
    if m["kind"] == "card":
        card = wecom_card(m)
        return {"id": m["id"], "userid": userid, "msgtype": "template_card",
                "content": card["main_title"]["title"], "card": card, "body": m}
    return {"id": m["id"], "userid": userid, "msgtype": m["kind"], "content": m["text"], "card": None, "body": m}
