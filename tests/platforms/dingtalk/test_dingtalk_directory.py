"""DingTalk's 通讯录 source (``bot/platforms/dingtalk/directory.py``) against the fake over HTTP:
the tree walked level by level from the root, members paged by cursor, the token refreshed once."""
from __future__ import annotations

import aiohttp
import pytest

from bot.platforms import dingtalk
from tests.support.dingtalk_harness import dingtalk_settings
from tests.support.fakedirectory import DING_LISTSUB, DING_USER_LIST


@pytest.fixture
async def source(fake_dingtalk, tmp_path, sqlite_url):
    org = fake_dingtalk.directory
    org.department(2, "机电工程系")
    org.department(3, "电气教研室", parent=2)
    org.department(4, "自动化教研室", parent=3)
    for i in range(7):
        org.member(f"t{i}", f"教师{i}", 3)
    org.member("both", "兼职", 2, 4)
    org.member("boss", "校长")  # in the root department itself
    async with aiohttp.ClientSession() as http:
        yield dingtalk.directory(dingtalk_settings(sqlite_url, tmp_path, fake_dingtalk), http)


async def test_departments_are_walked_from_the_root(source, fake_dingtalk):
    found = await source.departments()
    assert [(d.id, d.name, d.parent_id) for d in found] == [
        ("1", "示范职业技术学院", ""), ("2", "机电工程系", "1"), ("3", "电气教研室", "2"), ("4", "自动化教研室", "3")]
    assert [c["dept_id"] for c in fake_dingtalk.directory.calls_to(DING_LISTSUB)] == [1, 2, 3, 4]


async def test_members_are_paged_by_cursor_and_keep_every_department(source, fake_dingtalk):
    members = await source.members()
    by_id = {}
    for m in members:
        by_id.setdefault(m.account_id, m)
    assert sorted(by_id) == sorted([f"t{i}" for i in range(7)] + ["both", "boss"])
    assert by_id["both"].department_ids == ("2", "4") and by_id["boss"].department_ids == ("1",)
    pages = [c for c in fake_dingtalk.directory.calls_to(DING_USER_LIST) if c["dept_id"] == 3]
    assert [c["cursor"] for c in pages] == [0, 3, 6]  # seven members, three a page
    assert await source.name_of("t4") == "教师4"


async def test_an_expired_token_is_refreshed_once(source, fake_dingtalk):
    await source.departments()
    calls = fake_dingtalk.token_calls
    fake_dingtalk.expire_tokens()
    assert len(await source.members()) >= 9
    assert fake_dingtalk.token_calls == calls + 1
