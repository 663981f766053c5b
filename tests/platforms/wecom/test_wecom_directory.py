"""WeCom's 通讯录 source (``bot/platforms/wecom/directory.py``) against the fake over HTTP:
department/list, user/list_id by cursor, user/get only when asked, the token refreshed once."""
from __future__ import annotations

import aiohttp
import pytest

from bot.platforms import wecom
from tests.support.fakedirectory import WECOM_LIST_ID, WECOM_USER_GET


@pytest.fixture
async def source(fake_wecom, wecom_settings):
    org = fake_wecom.directory
    org.department(2, "机电工程系")
    org.department(3, "电气教研室", parent=2)
    for i in range(7):
        org.member(f"t{i}", f"教师{i}", 3)
    org.member("both", "兼职", 2, 3)
    async with aiohttp.ClientSession() as http:
        yield wecom.directory(wecom_settings, http)


async def test_departments_and_members_by_cursor(source, fake_wecom):
    assert [(d.id, d.name, d.parent_id) for d in await source.departments()] == [
        ("1", "示范职业技术学院", ""), ("2", "机电工程系", "1"), ("3", "电气教研室", "2")]
    members = {m.account_id: m for m in await source.members()}
    assert sorted(members) == sorted([f"t{i}" for i in range(7)] + ["both"])
    assert members["both"].department_ids == ("2", "3") and members["t0"].name == ""
    pages = fake_wecom.directory.calls_to(WECOM_LIST_ID)
    assert len(pages) == 3 and all(p["limit"] == 10000 for p in pages)  # nine rows, three a page
    assert fake_wecom.directory.calls_to(WECOM_USER_GET) == []  # names only when asked
    assert await source.name_of("t3") == "教师3"


async def test_an_expired_token_is_refreshed_once(source, fake_wecom):
    await source.departments()
    issued = fake_wecom.token_issues
    fake_wecom.expire_tokens()
    assert len(await source.members()) == 8
    assert fake_wecom.token_issues == issued + 1
