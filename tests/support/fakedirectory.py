"""The 通讯录 endpoints of the fake WeCom and the fake DingTalk, as each platform documents them.

Both fakes mount one of these (``fake_wecom.directory``, ``fake_dingtalk.directory``); a test
describes the organisation once::

    org = fake.directory
    org.department(2, "机电工程系", parent=1)
    org.member("sunlt", "孙丽婷", 2)

WeCom: ``GET department/list`` (``id`` for a subtree), ``POST user/list_id`` ({cursor, limit ≤ 10000}
→ ``dept_user`` rows of {userid, department}, ``next_cursor`` "" at the end), ``GET user/get``
(``name``, ``department``, ``main_department``; unknown → 60111).
DingTalk (oapi, ``access_token`` in the query): ``topapi/v2/department/get`` and ``listsub``
(one level; unknown → 60003), ``topapi/v2/user/list`` ({dept_id, cursor, size ≤ 100} → ``result``
{has_more, next_cursor, list}). ``page_cap`` makes a page shorter than asked, so cursors are used.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from aiohttp import web

WECOM_DEPARTMENTS = "/cgi-bin/department/list"
WECOM_LIST_ID = "/cgi-bin/user/list_id"
WECOM_USER_GET = "/cgi-bin/user/get"
DING_DEPARTMENT_GET = "/topapi/v2/department/get"
DING_LISTSUB = "/topapi/v2/department/listsub"
DING_USER_LIST = "/topapi/v2/user/list"


@dataclass
class Org:
    """Departments by id (name, parent; the root has parent 0) and members (name, department ids)."""

    departments: dict[int, tuple[str, int]] = field(default_factory=lambda: {1: ("示范职业技术学院", 0)})
    members: dict[str, tuple[str, list[int]]] = field(default_factory=dict)
    page_cap: int = 3
    calls: list[tuple[str, dict]] = field(default_factory=list)

    def department(self, dept_id: int, name: str, parent: int = 1) -> None:
        self.departments[dept_id] = (name, parent)

    def member(self, userid: str, name: str, *dept_ids: int) -> None:
        self.members[userid] = (name, list(dept_ids) or [1])

    def leave(self, userid: str) -> None:
        del self.members[userid]

    def calls_to(self, path: str) -> list[dict]:
        return [q for p, q in self.calls if p == path]

    def _subtree(self, root: int) -> list[int]:
        out, queue = [], [root]
        while queue:
            current = queue.pop(0)
            out.append(current)
            queue += [d for d, (_, parent) in self.departments.items() if parent == current]
        return out


def _json(errcode: int = 0, errmsg: str = "ok", **extra) -> web.Response:
    return web.json_response({"errcode": errcode, "errmsg": errmsg, **extra})


class FakeWeComDirectory(Org):
    def add_routes(self, app: web.Application, check_token: Callable[[web.Request], web.Response | None]) -> None:
        async def guarded(request: web.Request, handler) -> web.Response:
            body = await request.json() if request.method == "POST" else {}
            self.calls.append((request.path, {**request.query, **body}))
            return check_token(request) or handler(request.query, body)

        for method, path, handler in (("GET", WECOM_DEPARTMENTS, self._departments),
                                      ("POST", WECOM_LIST_ID, self._list_id), ("GET", WECOM_USER_GET, self._get)):
            app.router.add_route(method, path, lambda r, h=handler: guarded(r, h))

    def _departments(self, query, _body) -> web.Response:
        root = int(query.get("id") or 1)
        if root not in self.departments:
            return _json(60003, "department not found")
        return _json(department=[{"id": d, "name": self.departments[d][0], "parentid": self.departments[d][1],
                                  "order": 100000000 - d} for d in self._subtree(root)])

    def _list_id(self, _query, body) -> web.Response:
        limit = int(body.get("limit") or 10000)
        if not 1 <= limit <= 10000:
            return _json(40058, "invalid limit")
        rows = [{"userid": u, "department": d} for u, (_, depts) in sorted(self.members.items()) for d in depts]
        start = int(body.get("cursor") or 0)  # opaque to the caller; an offset here
        end = start + min(limit, self.page_cap)
        return _json(next_cursor=str(end) if end < len(rows) else "", dept_user=rows[start:end])

    def _get(self, query, _body) -> web.Response:
        found = self.members.get(query.get("userid", ""))
        if found is None:
            return _json(60111, "userid not found")
        name, depts = found
        return _json(userid=query["userid"], name=name, department=depts, main_department=depts[0], status=1)


class FakeDingTalkDirectory(Org):
    def add_routes(self, app: web.Application, check_token: Callable[[web.Request], web.Response | None]) -> None:
        async def guarded(request: web.Request, handler) -> web.Response:
            body = await request.json()
            self.calls.append((request.path, body))
            return check_token(request) or handler(body)

        for path, handler in ((DING_DEPARTMENT_GET, self._get), (DING_LISTSUB, self._listsub),
                              (DING_USER_LIST, self._user_list)):
            app.router.add_post(path, lambda r, h=handler: guarded(r, h))

    def _get(self, body) -> web.Response:
        dept = int(body.get("dept_id", 0))
        if dept not in self.departments:
            return _json(60003, "部门不存在")
        name, parent = self.departments[dept]
        return _json(result={"dept_id": dept, "name": name, "parent_id": parent})

    def _listsub(self, body) -> web.Response:
        parent = int(body.get("dept_id", 1))
        if parent not in self.departments:
            return _json(60003, "部门不存在")
        return _json(result=[{"dept_id": d, "name": n, "parent_id": p} for d, (n, p) in sorted(self.departments.items())
                             if p == parent])

    def _user_list(self, body) -> web.Response:
        dept, size, cursor = int(body.get("dept_id", 0)), int(body.get("size", 0)), int(body.get("cursor", 0))
        if dept not in self.departments:
            return _json(60003, "部门不存在")
        if not 1 <= size <= 100:
            return _json(40035, "size 不合法")
        here = [(u, n, ds) for u, (n, ds) in sorted(self.members.items()) if dept in ds]
        end = cursor + min(size, self.page_cap)
        page = [{"userid": u, "name": n, "dept_id_list": ds, "unionid": f"union-{u}", "active": True}
                for u, n, ds in here[cursor:end]]
        more = end < len(here)
        return _json(result={"has_more": more, "next_cursor": end if more else None, "list": page})
