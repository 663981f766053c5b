"""WeCom and DingTalk both configured (``serve``), against both fakes over real HTTP: the directory
says who is where (``wecom_userid`` / ``dingtalk_userid``), each person gets each message once, on
the platform they last wrote from or the one the directory names, and 调停课 runs with its people
split between the two."""
from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import select

from bot import outbox
from bot.app import CORE, PLATFORMS_KEY, create_app
from bot.directory import import_rows, read_rows
from bot.outbound import OutboundMessage
from bot.seed import seed_demo
from models import OutboxMessage, OutboxRecipient, PersonAccount
from tests.support.dingtalk_harness import DingTalkHarness, card_text as dd_card_text, dingtalk_settings
from tests.support.flows import TODAY, fill_form
from tests.support.harness import WeComHarness, card_text, pin_today

# Who is where, as the school's directory file says: an empty cell means "not on that platform".
PEOPLE = """userid,name,department,roles,classes,wecom_userid,dingtalk_userid
sunlt,孙丽婷,机电工程系,任课教师,,sunlt,
chenzr,陈志荣,机电工程系,系部主任;任课教师,,,dt-chenzr
zhaogm,赵国民,教务处,教务处分管领导,,,zhaogm
wangjw,王建伟,教务处,教务处,,wangjw,wangjw
liuyf,刘艳芳,教务处,教务处,,liuyf,
guoyan,郭燕,信息工程系,教学秘书,,guoyan,
"""
WECOM = {"sunlt": "sunlt", "liuyf": "liuyf", "guoyan": "guoyan"}
DINGTALK = {"chenzr": "dt-chenzr", "zhaogm": "zhaogm"}


class Both:
    def __init__(self, core, wx: WeComHarness, dd: DingTalkHarness) -> None:
        self.core, self.wx, self.dd = core, wx, dd

    def on_wecom(self, account: str) -> int:
        return len(self.wx.inbox(account))

    def on_dingtalk(self, account: str) -> int:
        return len(self.dd.inbox(account))


@pytest.fixture
async def both(aiohttp_client, wecom_settings, fake_wecom, fake_dingtalk, tmp_path, db_url):
    ding = dingtalk_settings(db_url, tmp_path, fake_dingtalk).model_dump()
    settings = wecom_settings.model_copy(update={k: v for k, v in ding.items() if k.startswith("dingtalk_")})
    app = create_app(settings, "serve", start_workers=False)
    client = await aiohttp_client(app)
    core = app[CORE]
    assert [p.name for p in app[PLATFORMS_KEY]] == ["wecom", "dingtalk"]
    people = tmp_path / "people.csv"
    people.write_text(PEOPLE, encoding="utf-8")
    async with core.db.session() as s:
        await seed_demo(s)
        report = await import_rows(s, read_rows(people))
    assert report.updated == 6 and not report.refused
    await fake_dingtalk.wait_connected()
    pin_today(core, TODAY)
    return Both(core, WeComHarness(client, core, fake_wecom), DingTalkHarness(client, core, fake_dingtalk))


async def accounts_of(core, userid: str) -> dict[str, str]:
    async with core.db.session() as s:
        rows = (await s.execute(select(PersonAccount).where(PersonAccount.userid == userid))).scalars()
        return {a.platform: a.account_id for a in rows}


async def sent_rows(core, userid: str) -> int:
    """Messages (not card updates) the outbox delivered to this person."""
    async with core.db.session() as s:
        rows = (await s.execute(select(OutboxMessage.message).join(
            OutboxRecipient, OutboxRecipient.outbox_id == OutboxMessage.id).where(
            OutboxRecipient.userid == userid, OutboxRecipient.status == "sent"))).scalars()
        return sum(1 for m in rows if m["kind"] != "card_update")


async def broadcast(core, userids: list[str], text: str) -> None:
    async with core.db.session() as s:
        await outbox.enqueue(s, userids, OutboundMessage(kind="text", text=text))
    await core.settle()


async def test_the_directory_names_each_persons_platforms(both):
    core = both.core
    assert await accounts_of(core, "sunlt") == {"wecom": "sunlt", "devchat": "sunlt"}
    assert await accounts_of(core, "chenzr") == {"dingtalk": "dt-chenzr", "devchat": "chenzr"}
    assert await accounts_of(core, "wangjw") == {"wecom": "wangjw", "dingtalk": "wangjw", "devchat": "wangjw"}
    # Someone the file does not list keeps the userid on both (the demo directory's defaults).
    assert await accounts_of(core, "xuhm") == {"wecom": "xuhm", "dingtalk": "xuhm", "devchat": "xuhm"}


async def test_each_message_goes_once_where_the_person_is(both):
    core, wx, dd = both.core, both.wx, both.dd
    await broadcast(core, ["sunlt", "chenzr", "wangjw", "xuhm"], "通知一")
    # The named platform; for someone on both who never wrote, the first mounted (WeCom).
    assert wx.texts("sunlt") == ["通知一"] and dd.texts("dt-chenzr") == ["通知一"]
    assert wx.texts("wangjw") == ["通知一"] and not dd.inbox("wangjw")
    assert wx.texts("xuhm") == ["通知一"] and not dd.inbox("xuhm")
    assert not dd.inbox("sunlt") and not wx.inbox("chenzr") and not wx.inbox("dt-chenzr")

    await dd.say("wangjw", "帮助")  # he writes from DingTalk: the answer and what follows go there
    assert dd.texts("wangjw") and len(wx.texts("wangjw")) == 1
    await broadcast(core, ["wangjw", "sunlt"], "通知二")
    assert dd.texts("wangjw")[-1] == "通知二" and "通知二" not in wx.texts("wangjw")
    await wx.say("wangjw", "帮助")  # back on WeCom
    await broadcast(core, ["wangjw"], "通知三")
    assert wx.texts("wangjw")[-1] == "通知三" and "通知三" not in dd.texts("wangjw")
    for userid, wecom_account, ding_account in (("sunlt", "sunlt", "sunlt"), ("wangjw", "wangjw", "wangjw"),
                                                 ("chenzr", "chenzr", "dt-chenzr"), ("xuhm", "xuhm", "xuhm")):
        got = both.on_wecom(wecom_account) + both.on_dingtalk(ding_account)
        assert got == await sent_rows(core, userid), userid  # each message once, on one platform
    assert wx.fake.doubled() == {}


async def test_adjust_class_with_approvers_split_between_wecom_and_dingtalk(both):
    core, wx, dd = both.core, both.wx, both.dd
    await dd.say("wangjw", "帮助")  # 教务处's 王建伟 last wrote from DingTalk; 刘艳芳 is on WeCom only
    await fill_form(wx)  # the teacher, on WeCom
    await wx.say("sunlt", "确认")
    assert "已提交" in wx.last_text("sunlt")

    card = dd.last_card("dt-chenzr")  # the 系部主任, on DingTalk under his own DingTalk account
    assert "待审批" in card["params"]["title"] and "电工基础" in dd_card_text(card)
    await dd.click("dt-chenzr", card, "同意")
    update = dd.fake.card_updates[-1]
    assert update["outTrackId"] == card["outTrackId"]
    assert card["params"]["status"].startswith("已由陈志荣同意 · ") and card["params"]["buttons"] == "[]"  # in place
    await dd.click("dt-chenzr", card, "同意")  # the tap delivered again: one effect
    assert len(dd.cards("zhaogm")) == 1

    leader_card = dd.last_card("zhaogm")  # 分管领导, DingTalk
    assert "陈志荣" in dd_card_text(leader_card)
    await dd.click("zhaogm", leader_card, "同意")

    task_card = dd.last_card("wangjw")  # 教务处: both get the task, each on their platform
    stale = wx.last_card("liuyf")
    assert "教务处调整课表" in dd_card_text(task_card) and "教务处调整课表" in card_text(stale)
    await dd.click("wangjw", task_card, "办结")
    record_card = dd.last_card("wangjw")
    assert "教务处盖章记录表" in dd_card_text(record_card)
    assert record_card["params"]["url"].startswith("http://campusbot.test/record/")
    await wx.click("liuyf", stale, "办结")  # late, on WeCom
    assert "已处理" in wx.last_text("liuyf")
    await dd.click("wangjw", record_card, "办结")

    confirm = wx.cards("guoyan")[-1]  # the 教学秘书, WeCom
    await wx.click("guoyan", confirm, "确认已通知")
    # the teacher heard each decision once, and last that it is done, with the record (a card)
    joined = "\n".join(wx.texts("sunlt"))
    for words in ("陈志荣已同意", "赵国民已同意"):
        assert words in joined, words
    assert "已办结" in wx.inbox("sunlt")[-1]["content"] and "已全部办结" not in joined

    # Each person got each message once, on their platform, and nothing on the other.
    for userid, account in WECOM.items():
        assert not dd.inbox(account), userid
        assert both.on_wecom(account) == await sent_rows(core, userid), userid
    for userid, account in DINGTALK.items():
        assert not wx.inbox(account) and not wx.inbox(userid), userid
        assert both.on_dingtalk(account) == await sent_rows(core, userid), userid
    assert not wx.inbox("wangjw") and both.on_dingtalk("wangjw") == await sent_rows(core, "wangjw")
    assert wx.fake.doubled() == {}
    cards = Counter((c["userid"], c["outTrackId"]) for c in dd.fake.cards.values())
    assert all(n == 1 for n in cards.values())
    assert dd.fake.bad_acks == []
