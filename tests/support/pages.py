"""The signed pages as a browser uses them: open a card's link, submit a file, download."""
from __future__ import annotations

import io
import re

from aiohttp import FormData
from openpyxl import load_workbook

from tests.support.harness import local_path

BASE = "http://campusbot.test"


def local(url: str) -> str:
    assert url.startswith(BASE), url
    return url[len(BASE):]


async def upload(w, url: str, data: bytes, filename: str = "名单.xlsx") -> tuple[int, str]:
    """Open the signed page from a card and submit one file, as a browser would."""
    page = await w.client.get(local(url))
    assert page.status == 200, await page.text()
    form = FormData()
    form.add_field("file", data, filename=filename, content_type="application/octet-stream")
    resp = await w.client.post(local(url), data=form)
    html = await resp.text()
    await w.core.settle()
    return resp.status, html


def link_in(text: str, kind: str = "file") -> str:
    m = re.search(rf"{re.escape(BASE)}/{kind}/\d+\?\S+", text)
    assert m, text
    return m.group(0)


async def download(w, url: str) -> list[list]:
    resp = await w.client.get(local(url))
    assert resp.status == 200, await resp.text()
    wb = load_workbook(io.BytesIO(await resp.read()))
    return [list(r) for r in wb.active.iter_rows(values_only=True)]


async def upload_named(w, url: str, name: str, data: bytes):
    """Submit one named file to a signed page without opening it first."""
    form = FormData()
    form.add_field("file", data, filename=name, content_type="application/octet-stream")
    resp = await w.client.post(local_path(url), data=form)
    await w.core.settle()
    return resp.status, await resp.text()
