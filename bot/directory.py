"""The school's people: queries by role and 系部, and import from CSV/XLSX.

Import upserts by userid and refuses a bad row with its row number and reason
while keeping the good rows.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from pathlib import Path
from typing import Callable

from openpyxl import load_workbook
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import accounts
from bot.text_files import decode_office_text
from models import ROLES, Person, PersonAccount, SchoolClass
from workflow.people import names, people_with_role, teaching_departments

__all__ = ["names", "people_with_role", "teaching_departments", "class_department", "find_person", "similar_names",
           "import_rows", "read_rows", "ImportReport", "DirectoryFileError"]

COLUMNS = ("userid", "name", "department", "roles", "classes")
# Optional columns ``<platform>_userid`` (wecom_userid, dingtalk_userid…) name a person's account on
# that platform. A row that fills none gets the userid as its account on each chat platform it has
# none on yet (a college usually gives both the same staff id; an account set by a sync stays). A row
# that fills some names the person's platforms: they lose any account on the others, so the
# outbox never sends them where they are not. The local chat's account is always the userid.
ACCOUNT_SUFFIX = "_userid"
CHAT_PLATFORMS = ("wecom", "dingtalk")
LOCAL_PLATFORM = "devchat"
DEFAULT_ACCOUNT_PLATFORMS = (*CHAT_PLATFORMS, LOCAL_PLATFORM)
_IN_CHUNK = 500


async def class_department(s: AsyncSession, class_name: str) -> str | None:
    row = await s.get(SchoolClass, class_name)
    return row.department if row else None


async def find_person(s: AsyncSession, words: str) -> Person | None:
    """An active person by userid, or by name when the name is unique among active people."""
    words = words.strip()
    if not words:
        return None
    p = await s.get(Person, words)
    if p:
        return p if p.active else None
    found = (await s.execute(select(Person).where(Person.name == words, Person.active.is_(True)))).scalars().all()
    return found[0] if len(found) == 1 else None


def similar_names(words: str, people: list[Person], limit: int = 5) -> list[Person]:
    """The people whose name is closest to what was typed (a wrong character, a missing one)."""
    words = words.strip()
    scored = [(SequenceMatcher(None, words, p.name).ratio(), p.name, p) for p in people]
    return [p for ratio, _, p in sorted(scored, key=lambda x: (-x[0], x[1])) if ratio >= 0.4][:limit]


@dataclass
class ImportReport:
    added: int = 0
    updated: int = 0
    refused: list[tuple[int, str]] = field(default_factory=list)  # (row number, reason)


class DirectoryFileError(Exception):
    """The file itself cannot be read (wrong type, missing columns)."""


def read_rows(path: Path) -> list[tuple[int, dict[str, str]]]:
    """Rows with their spreadsheet row numbers (the header is row 1)."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        text = decode_office_text(path.read_bytes())
        if text is None:
            raise DirectoryFileError("无法识别文件编码，请另存为 UTF-8 的 CSV")
        table = list(csv.reader(io.StringIO(text)))
    elif suffix == ".xlsx":
        try:
            wb = load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:
            raise DirectoryFileError(f"无法打开 xlsx 文件：{exc}") from None
        ws = wb.active
        table = [["" if c is None else str(c) for c in row] for row in ws.iter_rows(values_only=True)]
        wb.close()
    else:
        raise DirectoryFileError(f"只支持 .csv 或 .xlsx 文件，收到的是 {path.suffix or '无扩展名'}")
    if not table:
        raise DirectoryFileError("文件是空的")
    header = [h.strip().lower() for h in table[0]]
    missing = [c for c in COLUMNS[:4] if c not in header]
    if missing:
        raise DirectoryFileError(f"缺少列：{', '.join(missing)}（需要 {','.join(COLUMNS)}）")
    out = []
    for i, row in enumerate(table[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        out.append((i, {h: (row[j].strip() if j < len(row) else "") for j, h in enumerate(header)}))
    return out


def _validate(row: dict[str, str]) -> str | None:
    if not row.get("userid"):
        return "userid 为空"
    if row["userid"].startswith(accounts.STRANGER_PREFIX) or len(row["userid"]) > 64:
        return f"userid 不能以 {accounts.STRANGER_PREFIX} 开头，且不超过 64 个字符"
    if not row.get("name"):
        return "name 为空"
    if not row.get("department"):
        return "department 为空"
    roles = [r.strip() for r in row.get("roles", "").split(";") if r.strip()]
    if not roles:
        return "roles 为空"
    bad = [r for r in roles if r not in ROLES]
    if bad:
        return f"未知角色：{'、'.join(bad)}（可用：{'、'.join(ROLES)}）"
    if row.get("classes", "").strip() and "辅导员" not in roles:
        return "只有辅导员可以填写 classes"
    return None


class _Known:
    """What the import needs of the database, read in a few queries up front and kept current as rows
    are applied: each importing person, their accounts, and who holds each account they may want."""

    def __init__(self) -> None:
        self.people: dict[str, Person] = {}
        self.accounts: dict[str, dict[str, PersonAccount]] = {}  # userid → platform → account
        self.owner: dict[tuple[str, str], str] = {}  # (platform, account_id) → userid

    @classmethod
    async def read(cls, s: AsyncSession, rows: list[tuple[int, dict[str, str]]]) -> "_Known":
        known = cls()
        userids = list(dict.fromkeys(r["userid"].strip() for _, r in rows if r.get("userid", "").strip()))
        wanted = list(dict.fromkeys([*userids, *(a for _, r in rows for a in named_accounts(r).values())]))
        for i in range(0, len(userids), _IN_CHUNK):
            chunk = userids[i:i + _IN_CHUNK]
            known.people.update((p.userid, p) for p in (await s.execute(
                select(Person).where(Person.userid.in_(chunk)))).scalars())
            for a in (await s.execute(select(PersonAccount).where(PersonAccount.userid.in_(chunk)))).scalars():
                known.add(a)
        for i in range(0, len(wanted), _IN_CHUNK):
            for a in (await s.execute(select(PersonAccount).where(
                    PersonAccount.account_id.in_(wanted[i:i + _IN_CHUNK])))).scalars():
                known.owner[(a.platform, a.account_id)] = a.userid
        return known

    def add(self, a: PersonAccount) -> None:
        self.accounts.setdefault(a.userid, {})[a.platform] = a
        self.owner[(a.platform, a.account_id)] = a.userid

    async def remove(self, s: AsyncSession, a: PersonAccount) -> None:
        await s.delete(a)
        await s.flush()  # before a new account of the same person on the platform is inserted
        self.accounts.get(a.userid, {}).pop(a.platform, None)
        self.owner.pop((a.platform, a.account_id), None)

    def wanted(self, userid: str, named: dict[str, str]) -> dict[str, str]:
        """The named accounts, else the userid on each platform the person has no account on yet."""
        if named:
            return {**named, LOCAL_PLATFORM: userid}
        have = self.accounts.get(userid, {})
        return {p: userid for p in DEFAULT_ACCOUNT_PLATFORMS if p not in have}

    def conflict(self, userid: str, wanted: dict[str, str]) -> str | None:
        for platform, account_id in wanted.items():
            owner = self.owner.get((platform, account_id))
            if owner is not None and owner != userid:
                return f"{platform} 账号 {account_id} 已属于 {owner}"
        return None

    async def set_accounts(self, s: AsyncSession, userid: str, wanted: dict[str, str], named: dict[str, str]) -> None:
        mine = self.accounts.get(userid, {})
        for platform, account_id in wanted.items():
            have = mine.get(platform)
            if have is not None and have.account_id == account_id:
                continue
            if have is not None:
                await self.remove(s, have)
            account = PersonAccount(platform=platform, account_id=account_id, userid=userid)
            s.add(account)
            self.add(account)
        if named:  # the row names the person's platforms: no account on the others
            for platform in CHAT_PLATFORMS:
                if platform not in named and platform in mine:
                    await self.remove(s, mine[platform])


async def import_rows(s: AsyncSession, rows: list[tuple[int, dict[str, str]]],
                      progress: Callable[[int, int], None] | None = None) -> ImportReport:
    """Upsert the good rows, refuse the bad ones with their reasons; a few queries for the whole file."""
    report = ImportReport()
    known = await _Known.read(s, rows)
    seen: dict[str, int] = {}
    class_owner: dict[str, tuple[int, str]] = {}
    classes_of: dict[str, tuple[str, list[str]]] = {}  # userid → (department, classes)
    for n, (rowno, row) in enumerate(rows, start=1):
        if progress:
            progress(n, len(rows))
        reason = _validate(row)
        if reason is None and row["userid"] in seen:
            reason = f"userid {row['userid']} 与第 {seen[row['userid']]} 行重复"
        classes = [c.strip() for c in row.get("classes", "").split(";") if c.strip()]
        if reason is None:
            for c in classes:
                if c in class_owner and class_owner[c][1] != row["userid"]:
                    reason = f"班级 {c} 已由第 {class_owner[c][0]} 行的辅导员负责"
                    break
        named = named_accounts(row)
        wanted: dict[str, str] = {}
        if reason is None:
            wanted = known.wanted(row["userid"], named)
            reason = known.conflict(row["userid"], wanted)
        if reason:
            report.refused.append((rowno, reason))
            continue
        seen[row["userid"]] = rowno
        for c in classes:
            class_owner[c] = (rowno, row["userid"])
        roles = ";".join(r.strip() for r in row["roles"].split(";") if r.strip())
        person = known.people.get(row["userid"])
        if person is None:
            person = Person(userid=row["userid"], name=row["name"], department=row["department"],
                            roles_text=roles, classes_text=";".join(classes))
            s.add(person)
            known.people[row["userid"]] = person
            report.added += 1
        else:
            person.name, person.department = row["name"], row["department"]
            person.roles_text, person.classes_text = roles, ";".join(classes)
            person.active = True  # listed by the school again
            report.updated += 1
        await known.set_accounts(s, row["userid"], wanted, named)
        classes_of[row["userid"]] = (row["department"], classes)
    await s.flush()
    await _replace_classes(s, classes_of)
    return report


async def _replace_classes(s: AsyncSession, classes_of: dict[str, tuple[str, list[str]]]) -> None:
    """Each imported 辅导员's classes are exactly their row's: old ones dropped, named ones taken over."""
    userids = list(classes_of)
    taken = [c for _, classes in classes_of.values() for c in classes]
    for i in range(0, len(userids), _IN_CHUNK):
        await s.execute(delete(SchoolClass).where(SchoolClass.counselor_userid.in_(userids[i:i + _IN_CHUNK])))
    for i in range(0, len(taken), _IN_CHUNK):
        await s.execute(delete(SchoolClass).where(SchoolClass.name.in_(taken[i:i + _IN_CHUNK])))
    s.add_all(SchoolClass(name=c, department=department, counselor_userid=userid)
              for userid, (department, classes) in classes_of.items() for c in classes)
    await s.flush()


def named_accounts(row: dict[str, str]) -> dict[str, str]:
    """platform → account id the row's ``<platform>_userid`` cells name (none filled: empty)."""
    return {column[: -len(ACCOUNT_SUFFIX)]: value.strip() for column, value in row.items()
            if column.endswith(ACCOUNT_SUFFIX) and column != "userid" and value.strip()}
