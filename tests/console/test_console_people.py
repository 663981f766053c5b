"""通讯录 on the console over real HTTP: people with roles, classes and platform accounts, filtered;
a directory import previewed row by row (nothing written) and then applied in one go, audited;
CSRF and the 教学秘书's limits."""
from __future__ import annotations

import os
import re
import time

from aiohttp import FormData
from sqlalchemy import select

from models import AuditEntry, Person, PersonAccount
from tests.support.identity import PLAIN_UA, WXWORK_UA
from tests.support.people import OFFICE, SECRETARY_IT

CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')
CSV = ("userid,name,department,roles,classes,dingtalk_userid\n"
       "wangjw,王建伟,教务处,教务处,,\n"                       # unchanged
       "zhoujs,周建森,机电工程系,辅导员,数控2401;数控2402,\n"   # one class more
       "sunlt,孙丽婷,机电工程系,任课教师,,ding-sunlt\n"          # a DingTalk account of her own
       "newt,新老师,信息工程系,任课教师,,\n"                     # added
       "badr,错角色,信息工程系,校长,,\n")                        # refused


def flash(html: str) -> str:
    found = re.search(r'<div class="flash [a-z]+" role="status">(.*?)</div>', html, re.S)
    return found.group(1) if found else ""


async def upload(b, data: bytes, name: str = "通讯录.csv", token: str | None = None) -> tuple[int, str]:
    _, html = await b.open("/console/people")
    form = FormData()
    form.add_field("csrf", CSRF.search(html).group(1) if token is None else token)
    form.add_field("file", data, filename=name, content_type="text/csv")
    return await b.open("/console/people/preview", "POST", form)


async def test_people_are_listed_filtered_and_an_import_is_previewed_then_applied(wecom, browsers):
    w = wecom
    b = browsers(OFFICE, PLAIN_UA)
    await b.open("/console/login/qr")
    status, html = await b.open("/console/people")
    assert status == 200 and "黄福东" in html and "机电2401" in html and "企业微信：huangfd" in html
    status, html = await b.open("/console/people?department=信息工程系&role=辅导员")
    people = re.search(r'<div class="card" id="people">(.*?)</div>', html, re.S).group(1)
    assert "唐文杰" in people and "黄福东" not in people and "郭燕" not in people

    imports = w.core.settings.data_dir / "console" / "imports"
    imports.mkdir(parents=True, exist_ok=True)
    stale = imports / "0123456789abcdef0123456789abcdef.csv"  # previewed two days ago, never applied
    stale.write_text("userid\n")
    os.utime(stale, (time.time() - 2 * 86400,) * 2)
    status, html = await upload(b, CSV.encode())
    assert not stale.exists()
    assert status == 200 and "新增 <b>1</b> 人，更新 <b>2</b> 人，不变 <b>1</b> 人，不导入 <b>1</b> 行" in html
    assert re.search(r'row-refused"><td>6</td><td>badr</td>.*?未知角色：校长', html, re.S)
    assert "班级：数控2401 → 数控2401;数控2402" in html and "钉钉账号：sunlt → ding-sunlt" in html
    async with w.core.db.session() as s:  # a preview writes nothing
        assert await s.get(Person, "newt") is None
        assert (await s.get(Person, "zhoujs")).classes == ["数控2401"]

    token = re.search(r'name="token" value="([^"]+)"', html).group(1)
    status, html = await b.open("/console/people/apply", "POST",
                                {"csrf": CSRF.search(html).group(1), "token": token, "filename": "通讯录.csv"})
    assert status == 200 and "新增 1 人，更新 2 人，不变 1 人，1 行未导入" in flash(html)
    async with w.core.db.session() as s:
        assert (await s.get(Person, "newt")).department == "信息工程系"
        assert (await s.get(Person, "zhoujs")).classes == ["数控2401", "数控2402"]
        assert (await s.get(PersonAccount, ("dingtalk", "ding-sunlt"))).userid == "sunlt"
        (entry,) = (await s.execute(select(AuditEntry).where(AuditEntry.action == "directory_import"))).scalars()
    assert entry.actor == OFFICE and "新增1 更新2 不变1 未导入1" in entry.detail
    status, html = await b.open("/console/people/apply", "POST",  # the kept file is gone once applied
                                {"csrf": CSRF.search(html).group(1), "token": token})
    assert "预览已经失效" in flash(html)

    status, html = await upload(b, b"not a sheet", name="x.txt")
    assert "只支持 .csv 或 .xlsx" in flash(html)
    status, html = await upload(b, CSV.encode(), token="")
    assert status == 403 and "页面已过期" in html
    assert not list((w.core.settings.data_dir / "console" / "imports").glob("*"))


async def test_a_secretary_sees_her_own_department_and_cannot_import(wecom, browsers):
    sec = browsers(SECRETARY_IT, WXWORK_UA)
    status, html = await sec.open("/console/people?department=机电工程系")
    assert status == 200 and "唐文杰" in html and "黄福东" not in html and "导入通讯录" not in html
    status, html = await upload(sec, CSV.encode())
    assert status == 403 and "只能查看" in html
