"""通讯录 on the console: people, roles, classes and per-platform accounts, filterable; and a
directory import (csv/xlsx, bot/directory.py's importer) previewed row by row before it is applied.

The preview runs the importer in a transaction that is rolled back, so it refuses exactly the rows
the import would; applying runs it again on the same kept file in one transaction, audited."""
from __future__ import annotations

import re
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web
from sqlalchemy import or_, select

from bot import directory
from bot.console.forms import sweep
from handlers.offload import off_loop
from models import ROLES, Person, PersonAccount, SchoolClass

if TYPE_CHECKING:
    from bot.console.web import Console

TEXTS = "console/people_texts.j2"
SHOWN = 500  # people listed at once; the filters narrow it
TOKEN = re.compile(r"^[0-9a-f]{32}\.(csv|xlsx)$")


class _Preview(Exception):
    """Raised inside the preview's session so that nothing the importer wrote is committed."""


def _store(console: "Console") -> Path:
    return Path(console.core.settings.data_dir) / "console" / "imports"


async def preview_rows(s, rows: list[tuple[int, dict]]) -> dict:
    """Each row as the import would take it: added, updated (with what changes), unchanged, refused."""
    ids = [r["userid"] for _, r in rows if r.get("userid")]
    before = {p.userid: p for p in (await s.execute(select(Person).where(Person.userid.in_(ids)))).scalars()}
    accounts: dict[str, dict[str, str]] = {}
    for a in (await s.execute(select(PersonAccount).where(PersonAccount.userid.in_(ids)))).scalars():
        accounts.setdefault(a.userid, {})[a.platform] = a.account_id
    snapshot = {u: (p.name, p.department, p.roles_text, p.classes_text) for u, p in before.items()}
    report = await directory.import_rows(s, rows)
    refused = dict(report.refused)
    out = []
    for rowno, row in rows:
        item = dict(row=rowno, userid=row.get("userid", ""), name=row.get("name", ""),
                    department=row.get("department", ""), changes=[])
        if rowno in refused:
            item.update(state="refused", reason=refused[rowno])
        elif item["userid"] not in snapshot:
            item["state"] = "added"
        else:
            old = snapshot[item["userid"]]
            new = (row["name"], row["department"],
                   ";".join(r.strip() for r in row["roles"].split(";") if r.strip()),
                   ";".join(c.strip() for c in row.get("classes", "").split(";") if c.strip()))
            item["changes"] = [dict(field=f, old=o, new=n) for f, o, n in zip(("name", "department", "roles",
                                                                                "classes"), old, new) if o != n]
            mine = accounts.get(item["userid"], {})
            # As the import sets them: the accounts the row names, else the userid where none is set yet.
            wanted = directory.named_accounts(row) or {
                p: item["userid"] for p in directory.DEFAULT_ACCOUNT_PLATFORMS if p not in mine}
            item["changes"] += [dict(field=p, old=mine.get(p, ""), new=a)
                                for p, a in wanted.items() if mine.get(p) != a]
            item["state"] = "updated" if item["changes"] else "unchanged"
        out.append(item)
    counts = {k: sum(1 for i in out if i["state"] == k) for k in ("added", "updated", "unchanged", "refused")}
    return dict(rows=out, counts=counts)


def add_people_routes(app: web.Application, console: "Console") -> None:
    core = console.core
    note = lambda which, **v: core.renderer.macro(TEXTS, which, **v)  # noqa: E731 - a short local reader

    async def listing(request: web.Request) -> web.Response:
        viewer = await console.gate(request)
        if isinstance(viewer, web.Response):
            return viewer
        q = {k: request.query.get(k, "").strip()[:40] for k in ("q", "department", "role", "class")}
        if viewer.department is not None:
            q["department"] = viewer.department
        stmt = select(Person).order_by(Person.department, Person.userid).limit(SHOWN)
        if q["q"]:
            stmt = stmt.where(or_(Person.name.contains(q["q"], autoescape=True), Person.userid == q["q"]))
        if q["department"]:
            stmt = stmt.where(Person.department == q["department"])
        if q["role"]:
            stmt = stmt.where(Person.roles_text.contains(q["role"], autoescape=True))
        if q["class"]:
            stmt = stmt.where(Person.classes_text.contains(q["class"], autoescape=True))
        async with core.db.session() as s:
            people = [p for p in (await s.execute(stmt)).scalars()
                      if not q["role"] or q["role"] in p.roles]
            accounts: dict[str, list[PersonAccount]] = {}
            rows = await s.execute(select(PersonAccount).where(PersonAccount.userid.in_([p.userid for p in people]))
                                   .order_by(PersonAccount.platform))
            for a in rows.scalars():
                accounts.setdefault(a.userid, []).append(a)
            departments = sorted(set((await s.execute(select(Person.department).distinct())).scalars()))
            cq = select(SchoolClass).order_by(SchoolClass.department, SchoolClass.name)
            if viewer.department is not None:
                cq = cq.where(SchoolClass.department == viewer.department)
            classes = (await s.execute(cq)).scalars().all()
            who = await directory.names(s, [c.counselor_userid for c in classes])
        return console.page(request, "console/people.html", viewer=viewer, q=q, people=people, accounts=accounts,
                            departments=departments, roles=ROLES, classes=classes, who=who, shown=SHOWN)

    async def preview(request: web.Request) -> web.Response:
        found = await console.office_upload(request, _store(console))
        if isinstance(found, web.Response):
            return found
        viewer, form = found
        if len(form.files) != 1:
            form.discard()
            return console.back("/console/people", note("need_file"), ok=False)
        upload = form.files[0]
        suffix = Path(upload.filename).suffix.lower()
        if suffix not in (".csv", ".xlsx"):
            form.discard()
            return console.back("/console/people", note("bad_suffix"), ok=False)
        await off_loop(sweep, _store(console))
        token = f"{secrets.token_hex(16)}{suffix}"
        kept = _store(console) / token
        Path(upload.path).rename(kept)
        try:
            rows = await off_loop(directory.read_rows, kept)
        except directory.DirectoryFileError as exc:
            kept.unlink(missing_ok=True)
            return console.back("/console/people", note("unreadable", reason=str(exc)), ok=False)
        result: dict = {}
        try:
            async with core.db.session() as s:
                result = await preview_rows(s, rows)
                raise _Preview()
        except _Preview:
            pass
        return console.page(request, "console/people_preview.html", viewer=viewer, token=token,
                            filename=upload.filename, **result)

    async def apply(request: web.Request) -> web.Response:
        viewer = await console.office_post(request)
        if isinstance(viewer, web.Response):
            return viewer
        form = await request.post()
        token, name = str(form.get("token", "")), str(form.get("filename", ""))[:200]
        kept = _store(console) / token
        if not TOKEN.match(token) or not kept.is_file():
            return console.back("/console/people", note("preview_gone"), ok=False)
        try:
            rows = await off_loop(directory.read_rows, kept)
        except directory.DirectoryFileError as exc:
            return console.back("/console/people", note("unreadable", reason=str(exc)), ok=False)
        async with core.db.session() as s:
            counts = (await preview_rows(s, rows))["counts"]  # the same reading as the preview, committed
            await core.engine.audit(s, None, None, viewer.userid, "directory_import",
                                    note("audit", name=name, counts=counts))
        kept.unlink(missing_ok=True)
        return console.back("/console/people", note("applied", counts=counts))

    app.router.add_get("/console/people", listing)
    app.router.add_post("/console/people/preview", preview)
    app.router.add_post("/console/people/apply", apply)
