"""A person's WeCom client (or a plain browser) opening our pages, for page-identity tests."""
from __future__ import annotations

import aiohttp
from aiohttp import FormData

WXWORK_UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
             "Mobile/15E148 wxwork/4.1.22 MicroMessenger/7.0.1 Language/zh")
PLAIN_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
PUBLIC = "http://campusbot.test"


class Browser:
    """One person's WeCom client (or a plain browser): its own cookie jar, following redirects
    between our site and the fake WeCom's authorize host, which knows this person as logged in."""

    def __init__(self, w, userid: str, ua: str = WXWORK_UA) -> None:
        self.w, self.userid, self.ua = w, userid, ua
        self.site = str(w.client.make_url("")).rstrip("/")
        self.jar = aiohttp.CookieJar(unsafe=True)
        self.session = aiohttp.ClientSession(cookie_jar=self.jar)
        self.visited: list[str] = []

    async def close(self) -> None:
        await self.session.close()

    def _target(self, url: str) -> str:
        url = url.split("#", 1)[0]  # a browser never sends the fragment (#wechat_redirect)
        if url.startswith(PUBLIC):
            return self.site + url[len(PUBLIC):]
        return self.site + url if url.startswith("/") else url

    async def step(self, url: str, method: str = "GET", data=None) -> tuple[int, str, str]:
        """One request, no redirect followed: (status, Location, body)."""
        target = self._target(url)
        if target.startswith(self.w.fake.base_url):
            self.w.fake.oauth.user = self.userid  # whoever holds this phone is logged in to WeCom
        self.visited.append(url)
        async with self.session.request(method, target, data=data, allow_redirects=False,
                                        headers={"User-Agent": self.ua}) as resp:
            return resp.status, resp.headers.get("Location", ""), await resp.text()

    async def open(self, url: str, method: str = "GET", data=None) -> tuple[int, str]:
        for _ in range(6):
            status, location, body = await self.step(url, method, data)
            if status not in (301, 302, 303, 307):
                return status, body
            url, method, data = location, "GET", None
        raise AssertionError(f"redirect loop: {self.visited}")

    async def upload(self, url: str, name: str, data: bytes) -> tuple[int, str]:
        form = FormData()
        form.add_field("file", data, filename=name, content_type="application/octet-stream")
        result = await self.open(url, "POST", form)
        await self.w.core.settle()
        return result

    def cookie(self, name: str):
        return next((c for c in self.jar if c.key == name), None)
