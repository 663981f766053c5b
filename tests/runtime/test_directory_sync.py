"""``campusbot directory sync --from wecom|dingtalk``: the real command against the fake platforms'
通讯录 over HTTP (cursor paging included), on a real database: the counts it reports, what it
writes, that --dry-run writes nothing, and that people who left get no messages and no tasks."""
from __future__ import annotations

import asyncio

from sqlalchemy import select

from bot import outbox
from bot.db import Database
from bot.outbound import OutboundMessage
from bot.seed import seed_demo
from models import OutboxRecipient, Person, PersonAccount
from tests.support.dingtalk_harness import CLIENT_ID, SECRET
from tests.support.fakedirectory import DING_LISTSUB, DING_USER_LIST, WECOM_LIST_ID, WECOM_USER_GET, Org
from tests.support.processes import run
from workflow.people import people_with_role

DEMO = {  # the demo directory (bot/demo/directory.csv): userid → 系部
    "wangjw": "教务处", "liuyf": "教务处", "zhaogm": "教务处",
    "chenzr": "机电工程系", "linms": "机电工程系", "huangfd": "机电工程系", "zhoujs": "机电工程系",
    "sunlt": "机电工程系", "maqiang": "机电工程系", "hezq": "机电工程系",
    "xuhm": "信息工程系", "guoyan": "信息工程系", "tangwj": "信息工程系", "luoxy": "信息工程系", "fengkai": "信息工程系",
    "dengyl": "经济管理系", "caiqh": "经济管理系", "panxl": "经济管理系", "yuanhx": "经济管理系", "jiangtao": "经济管理系",
    "songlp": "通识教育部", "yeqing": "通识教育部", "cuimin": "通识教育部",
}
# The platform's tree: names differ where the school says so in the mapping file.
DEPARTMENTS = [(2, "教务处", 1), (3, "机电工程系", 1), (4, "电气教研室", 3), (5, "信息工程系", 1), (6, "经管学院", 1),
               (7, "通识教育部", 1), (8, "后勤处", 1)]
PLATFORM_DEPT = {"教务处": 2, "机电工程系": 3, "信息工程系": 5, "经济管理系": 6, "通识教育部": 7}


def school(org: Org) -> None:
    """This term's 通讯录: hezq has left, luoxy moved to 电气教研室 (机电工程系), a new teacher in 信息工程系,
    a 后勤处 worker who belongs to no 系部."""
    for dept_id, name, parent in DEPARTMENTS:
        org.department(dept_id, name, parent)
    for userid, department in DEMO.items():
        org.member(userid, f"平台名{userid}", PLATFORM_DEPT[department])
    org.leave("hezq")
    org.member("luoxy", "罗晓燕", 4)
    org.member("xinls", "辛丽莎", 5)
    org.member("wugq", "吴国强", 8)


async def prepared(db_url: str) -> Database:
    db = Database(db_url)
    await db.upgrade()
    async with db.session() as s:
        await seed_demo(s)
    return db


async def snapshot(db: Database) -> tuple[list, list]:
    async with db.session() as s:
        people = [(p.userid, p.name, p.department, p.roles_text, p.classes_text, p.active, p.updated_at)
                  for p in (await s.execute(select(Person).order_by(Person.userid))).scalars()]
        accounts = [(a.platform, a.account_id, a.userid, a.last_seen_at)
                    for a in (await s.execute(select(PersonAccount).order_by(PersonAccount.platform,
                                                                              PersonAccount.account_id))).scalars()]
    return people, accounts


async def sync(tmp_path, db_url: str, source: str, *extra: str, **env):
    mapping = tmp_path / "departments.yaml"
    mapping.write_text("# 平台部门: 系部\n经管学院: 经济管理系\n", encoding="utf-8")
    args = ["directory", "sync", "--from", source, "--mapping", str(mapping), *extra]
    return await asyncio.to_thread(run, args, tmp_path, CAMPUSBOT_DATABASE_URL=db_url, **env)


def dingtalk_env(fake) -> dict:
    return dict(CAMPUSBOT_DINGTALK_CLIENT_ID=CLIENT_ID, CAMPUSBOT_DINGTALK_CLIENT_SECRET=SECRET,
                CAMPUSBOT_DINGTALK_API_BASE=fake.base_url, CAMPUSBOT_DINGTALK_OAPI_BASE=fake.base_url)


def wecom_env(fake) -> dict:
    return dict(CAMPUSBOT_WECOM_CORP_ID=fake.corp_id, CAMPUSBOT_WECOM_SECRET=fake.secret,
                CAMPUSBOT_WECOM_API_BASE=fake.base_url)


FIRST = "新增 1 人，更新 1 人，离开 1 人，未对应系部 1 个部门（1 人），未变 21 人。"
AGAIN = "新增 0 人，更新 0 人，离开 0 人，未对应系部 1 个部门（1 人），未变 23 人。"


async def check_first_sync(db: Database, platform: str, r, new_account: str = "xinls") -> None:
    assert r.returncode == 0, r.stderr
    assert FIRST in r.stdout, r.stdout
    assert "xinls 辛丽莎（信息工程系）" in r.stdout and "luoxy 罗晓燕：系部 信息工程系 → 机电工程系" in r.stdout
    assert "hezq 何志强" in r.stdout and "示范职业技术学院/后勤处：1 人" in r.stdout
    async with db.session() as s:
        hezq, luoxy, new = [await s.get(Person, u) for u in ("hezq", "luoxy", "xinls")]
        assert hezq is not None and not hezq.active  # deactivated, never deleted
        assert (luoxy.department, luoxy.name, luoxy.roles_text) == ("机电工程系", "罗晓燕", "任课教师")
        assert (new.name, new.department, new.roles_text, new.active) == ("辛丽莎", "信息工程系", "任课教师", True)
        assert await s.get(PersonAccount, (platform, new_account)) is not None
        assert await s.get(Person, "wugq") is None  # 后勤处 is no 系部: reported, not added
        dengyl = await s.get(Person, "dengyl")  # 经管学院 → 经济管理系 by the mapping file: unchanged
        assert (dengyl.department, dengyl.roles_text, dengyl.name) == ("经济管理系", "系部主任;任课教师", "邓雨林")
        huangfd = await s.get(Person, "huangfd")  # the classes the school set stay
        assert huangfd.classes_text == "机电2401;机电2402"


async def test_sync_from_dingtalk(db_url, tmp_path, fake_dingtalk):
    org = fake_dingtalk.directory
    school(org)
    db = await prepared(db_url)
    try:
        before = await snapshot(db)
        r = await sync(tmp_path, db_url, "dingtalk", "--dry-run", **dingtalk_env(fake_dingtalk))
        assert r.returncode == 0 and FIRST in r.stdout and "试运行" in r.stdout, r.stdout + r.stderr
        assert await snapshot(db) == before  # --dry-run wrote nothing
        listsub = org.calls_to(DING_LISTSUB)
        assert {c["dept_id"] for c in listsub} == {1, 2, 3, 4, 5, 6, 7, 8}  # the tree, walked level by level
        pages = org.calls_to(DING_USER_LIST)
        assert any(c["cursor"] > 0 for c in pages) and all(c["size"] <= 100 for c in pages)

        r = await sync(tmp_path, db_url, "dingtalk", **dingtalk_env(fake_dingtalk))
        await check_first_sync(db, "dingtalk", r)
        r = await sync(tmp_path, db_url, "dingtalk", **dingtalk_env(fake_dingtalk))
        assert AGAIN in r.stdout, r.stdout

        org.member("hezq", "何志强", 3)  # back after a term away
        r = await sync(tmp_path, db_url, "dingtalk", **dingtalk_env(fake_dingtalk))
        assert "更新 1 人" in r.stdout and "hezq 何志强：重新启用" in r.stdout, r.stdout
    finally:
        await db.dispose()


async def test_sync_from_wecom(db_url, tmp_path, fake_wecom):
    org = fake_wecom.directory
    school(org)
    db = await prepared(db_url)
    try:
        before = await snapshot(db)
        r = await sync(tmp_path, db_url, "wecom", "--dry-run", **wecom_env(fake_wecom))
        assert r.returncode == 0 and FIRST in r.stdout, r.stdout + r.stderr
        assert await snapshot(db) == before
        pages = org.calls_to(WECOM_LIST_ID)
        assert len(pages) > 2 and pages[0].get("cursor") is None and pages[1]["cursor"]  # cursor paging
        assert [c["userid"] for c in org.calls_to(WECOM_USER_GET)] == ["xinls"]  # names only where needed

        r = await sync(tmp_path, db_url, "wecom", **wecom_env(fake_wecom))
        await check_first_sync(db, "wecom", r)
        r = await sync(tmp_path, db_url, "wecom", **wecom_env(fake_wecom))
        assert AGAIN in r.stdout, r.stdout
    finally:
        await db.dispose()


async def test_a_person_whose_platform_account_differs_is_matched_by_it(sqlite_url, tmp_path, fake_dingtalk):
    """The directory named her DingTalk account (dingtalk_userid): the sync finds her by it, not by userid."""
    from bot import accounts

    org = fake_dingtalk.directory
    school(org)
    org.leave("sunlt")
    org.member("dt-0042", "孙丽婷", 3)
    db = await prepared(sqlite_url)
    try:
        async with db.session() as s:
            await accounts.set_accounts(s, "sunlt", {"dingtalk": "dt-0042"})
        r = await sync(tmp_path, sqlite_url, "dingtalk", **dingtalk_env(fake_dingtalk))
        assert FIRST in r.stdout and "sunlt" not in r.stdout and "dt-0042" not in r.stdout, r.stdout
    finally:
        await db.dispose()


async def test_sync_names_a_missing_setting_and_a_bad_mapping_file(tmp_path, sqlite_url):
    r = await asyncio.to_thread(run, ["directory", "sync", "--from", "dingtalk"], tmp_path)
    assert r.returncode == 2 and "CAMPUSBOT_DINGTALK_CLIENT_ID" in r.stderr
    bad = tmp_path / "map.yaml"
    bad.write_text("- 机电学院\n", encoding="utf-8")
    r = await asyncio.to_thread(run, ["directory", "sync", "--from", "wecom", "--mapping", str(bad)], tmp_path,
                                CAMPUSBOT_WECOM_CORP_ID="ww1", CAMPUSBOT_WECOM_SECRET="s")
    assert r.returncode == 1 and "对应表" in r.stderr, r.stderr


async def test_someone_who_left_gets_no_messages_and_no_tasks(db_url, tmp_path, fake_dingtalk):
    school(fake_dingtalk.directory)
    db = await prepared(db_url)
    try:
        await sync(tmp_path, db_url, "dingtalk", **dingtalk_env(fake_dingtalk))
        async with db.session() as s:
            queued = await outbox.enqueue(s, ["hezq", "sunlt"], OutboundMessage(kind="text", text="期末考试安排已发布"))
            assert queued.userids == ("sunlt",)  # who left is not counted as told
            oid = queued.id
            teachers = [p.userid for p in await people_with_role(s, "任课教师", "机电工程系")]
        async with db.session() as s:
            told = (await s.execute(select(OutboxRecipient.userid).where(OutboxRecipient.outbox_id == oid))).scalars()
            assert list(told) == ["sunlt"]
        assert "hezq" not in teachers and "sunlt" in teachers and "luoxy" in teachers
    finally:
        await db.dispose()


async def test_someone_who_left_is_answered_like_a_stranger(wecom):
    """hezq left (inactive): what he writes starts nothing; he is told once, like someone not in the 通讯录."""
    async with wecom.core.db.session() as s:
        (await s.get(Person, "hezq")).active = False
    await wecom.say("hezq", "调课")
    await wecom.say("hezq", "调课")
    assert len(wecom.texts("hezq")) == 1 and "不在本校教务通讯录中" in wecom.texts("hezq")[0]
    await wecom.say("sunlt", "帮助")  # everyone else as before
    assert wecom.texts("sunlt")
    async with wecom.core.db.session() as s:
        (await s.get(Person, "hezq")).active = True  # back (a sync, or the school's file)
    await wecom.say("hezq", "帮助")
    assert len(wecom.texts("hezq")) == 2 and "不在本校教务通讯录中" not in wecom.texts("hezq")[1]


async def test_a_form_left_open_by_someone_who_left_is_closed_with_the_refusal(wecom):
    await wecom.say("hezq", "调课")
    assert "课程" in wecom.last_text("hezq")
    async with wecom.core.db.session() as s:
        (await s.get(Person, "hezq")).active = False
    await wecom.say("hezq", "电工基础")
    assert "不在本校教务通讯录中" in wecom.last_text("hezq")


async def test_a_dry_run_does_not_even_upgrade_the_schema(tmp_path, fake_dingtalk):
    from sqlalchemy import inspect

    school(fake_dingtalk.directory)
    url = f"sqlite+aiosqlite:///{tmp_path}/fresh.db"
    r = await sync(tmp_path, url, "dingtalk", "--dry-run", **dingtalk_env(fake_dingtalk))
    assert r.returncode == 1 and "campusbot db upgrade" in r.stderr, r.stdout + r.stderr
    db = Database(url)
    try:
        async with db.engine.connect() as conn:
            assert await conn.run_sync(lambda c: inspect(c).get_table_names()) == []
    finally:
        await db.dispose()
