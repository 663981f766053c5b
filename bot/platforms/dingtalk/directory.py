"""DingTalk's 通讯录 for ``campusbot directory sync`` (``bot.directory_sync.DirectorySource``).

``topapi/v2/department/listsub`` lists one level, so the tree is walked from the root
(dept 1); ``topapi/v2/user/list`` pages each department's members by cursor (≤ 100 a page).
A member of several departments is listed in each; ``dept_id_list`` names them all.
"""
from __future__ import annotations

from bot.department_map import PlatformDepartment
from bot.directory_sync import PlatformMember
from bot.platforms.dingtalk.client import DingTalkAPIError, DingTalkClient
from bot.platforms.dingtalk.events import PLATFORM

ROOT = 1
DEPARTMENT_GET = "/topapi/v2/department/get"
LISTSUB = "/topapi/v2/department/listsub"
USER_LIST = "/topapi/v2/user/list"
PAGE_SIZE = 100
MAX_DEPARTMENTS = 20_000  # a runaway tree stops here
MAX_PAGES = 10_000


class DingTalkDirectory:
    platform = PLATFORM

    def __init__(self, client: DingTalkClient) -> None:
        self._client = client
        self._departments: list[PlatformDepartment] | None = None
        self._names: dict[str, str] = {}

    async def departments(self) -> list[PlatformDepartment]:
        if self._departments is None:
            root = (await self._client.oapi(DEPARTMENT_GET, {"dept_id": ROOT})).get("result") or {}
            found = [PlatformDepartment(str(ROOT), str(root.get("name") or "根部门"))]
            queue = [ROOT]
            while queue and len(found) < MAX_DEPARTMENTS:
                parent = queue.pop(0)
                for d in (await self._client.oapi(LISTSUB, {"dept_id": parent})).get("result") or []:
                    found.append(PlatformDepartment(str(d["dept_id"]), str(d.get("name") or d["dept_id"]),
                                                    str(d.get("parent_id") or parent)))
                    queue.append(int(d["dept_id"]))
            self._departments = found
        return self._departments

    async def members(self) -> list[PlatformMember]:
        out: list[PlatformMember] = []
        for dept in await self.departments():
            cursor, pages = 0, 0
            while pages < MAX_PAGES:
                pages += 1
                result = (await self._client.oapi(USER_LIST, {"dept_id": int(dept.id), "cursor": cursor,
                                                              "size": PAGE_SIZE})).get("result") or {}
                for u in result.get("list") or []:
                    userid = str(u.get("userid") or "")
                    if not userid:
                        continue
                    name = str(u.get("name") or "")
                    self._names[userid] = name
                    depts = tuple(str(d) for d in (u.get("dept_id_list") or [dept.id]))
                    out.append(PlatformMember(userid, name, depts))
                if not result.get("has_more"):
                    break
                next_cursor = result.get("next_cursor")
                if next_cursor is None or next_cursor == cursor:
                    raise DingTalkAPIError(200, "cursor", f"user/list for {dept.id} did not advance its cursor")
                cursor = next_cursor
        return out

    async def name_of(self, account_id: str) -> str:
        return self._names.get(account_id, "")
