"""WeCom's 通讯录 for ``campusbot directory sync`` (``bot.directory_sync.DirectorySource``).

Since 2022 a new self-built app may not call ``user/list``: members come from
``user/list_id`` (cursor paging, one row per member and department) and names, only
for people new to the directory, from ``user/get``. Departments from ``department/list``.
"""
from __future__ import annotations

from bot.department_map import PlatformDepartment
from bot.directory_sync import PlatformMember
from bot.platforms.wecom.callback import PLATFORM
from bot.platforms.wecom.client import WeComAPIError, WeComClient

DEPARTMENT_LIST = "/cgi-bin/department/list"
USER_LIST_ID = "/cgi-bin/user/list_id"
USER_GET = "/cgi-bin/user/get"
PAGE_SIZE = 10_000  # WeCom's maximum
MAX_PAGES = 1_000


class WeComDirectory:
    platform = PLATFORM

    def __init__(self, client: WeComClient) -> None:
        self._client = client

    async def departments(self) -> list[PlatformDepartment]:
        answer = await self._client.api("GET", DEPARTMENT_LIST)
        out = []
        for d in answer.get("department") or []:
            parent = str(d.get("parentid") or "")
            out.append(PlatformDepartment(str(d["id"]), str(d.get("name") or d["id"]), "" if parent == "0" else parent))
        return out

    async def members(self) -> list[PlatformMember]:
        departments: dict[str, list[str]] = {}
        cursor = ""
        for _ in range(MAX_PAGES):
            body = {"limit": PAGE_SIZE, **({"cursor": cursor} if cursor else {})}
            answer = await self._client.api("POST", USER_LIST_ID, json_body=body)
            for row in answer.get("dept_user") or []:
                userid = str(row.get("userid") or "")
                if userid:
                    departments.setdefault(userid, []).append(str(row.get("department", "")))
            next_cursor = str(answer.get("next_cursor") or "")
            if not next_cursor:
                break
            if next_cursor == cursor:
                raise WeComAPIError(-2, "user/list_id did not advance its cursor", path=USER_LIST_ID)
            cursor = next_cursor
        return [PlatformMember(u, "", tuple(d)) for u, d in departments.items()]

    async def name_of(self, account_id: str) -> str:
        answer = await self._client.api("GET", USER_GET, params={"userid": account_id})
        return str(answer.get("name") or "")
