"""Who a 通知 goes to, as 教务处 staff write it: "所有教学秘书和辅导员", "全体任课教师",
"信息工程系及机电系的辅导员", "机电系、经管系".

The words split on 和/及/与/以及/、/，/,/；/spaces into pieces; each piece names a 系部 (full or short:
机电系 for 机电工程系), a role, or both. A 系部 named alone before a piece with a role shares that role
(信息工程系及机电系的辅导员); a role named alone after a 系部 and role stays in that 系部
(机电系的教学秘书和辅导员), unless it says 所有/全体.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from sqlalchemy import select

from models import ROLES, Person

EVERYONE = {"全体", "所有人", "全校", "全部", "所有", "全体人员", "全体教职工"}
_SPLIT = re.compile(r"(?:以及|[、，,；;和及与]|\s)+")
_ALL_PREFIX = re.compile(r"^(?:所有的?|全体的?|全部的?|各系部的?|各系的?|各)")
_ROLE_WORDS = {"教师": "任课教师", "老师": "任课教师", "老师们": "任课教师", "任课老师": "任课教师",
               "教务处人员": "教务处", "分管领导": "教务处分管领导", "秘书": "教学秘书", "主任": "系部主任"}
_WHOLE = {"人员", "全体", "全体人员", "所有人", "全员", "全部"}  # 机电系全体: the whole 系部


@dataclass
class _Piece:
    token: str
    department: str | None
    role: str | None
    everywhere: bool  # said 所有/全体: not narrowed by a 系部 named before


def _role(words: str) -> str | None:
    words = words.removesuffix("们") if words not in _ROLE_WORDS else words
    if words in ROLES:
        return words
    return _ROLE_WORDS.get(words)


def _abbreviates(short: str, full: str) -> bool:
    """机电系 → 机电工程系, 经管系 → 经济管理系: same first and last character, the rest in order."""
    if short == full:
        return True
    if len(short) < 2 or short[0] != full[0] or short[-1] != full[-1]:
        return False
    rest = iter(full)
    return all(ch in rest for ch in short)


def _department(words: str, departments: list[str]) -> tuple[str | None, str]:
    """The 系部 a piece starts with (longest reading first) and what follows it."""
    for end in range(len(words), 1, -1):
        head = words[:end]
        exact = [d for d in departments if d == head]
        short = [d for d in departments if _abbreviates(head, d)]
        found = exact or (short if len(short) == 1 else [])
        if found:
            return found[0], words[end:].removeprefix("的")
    return None, words


def _pieces(words: str, departments: list[str]) -> tuple[list[_Piece], list[str]]:
    pieces: list[_Piece] = []
    unknown: list[str] = []
    for token in (t for t in _SPLIT.split(unicodedata.normalize("NFKC", words).strip()) if t):
        if token in EVERYONE:
            pieces.append(_Piece(token, None, None, True))
            continue
        rest = _ALL_PREFIX.sub("", token)
        everywhere = rest != token
        dept, rest = _department(rest, departments)
        rest = "" if dept and rest in _WHOLE else rest
        role = _role(rest) if rest else None
        if (rest and role is None) or (dept is None and role is None):
            unknown.append(token)
            continue
        pieces.append(_Piece(token, dept, role, everywhere))
    return pieces, unknown


def _groups(pieces: list[_Piece]) -> list[tuple[list[str] | None, str | None]]:
    """(系部 or None for all, role or None for everyone there), shared roles and 系部 applied."""
    groups: list[tuple[list[str] | None, str | None]] = []
    waiting: list[str] = []  # 系部 named alone, waiting for a role
    last: list[str] | None = None  # the 系部 of the last piece with a role
    for p in pieces:
        if p.department is None and p.role is None:  # 全体
            groups.append((None, None))
            last = None
        elif p.role is None:
            waiting.append(p.department)
        elif p.department is not None:
            last = waiting + [p.department]
            groups.append((last, p.role))
            waiting = []
        elif waiting and not p.everywhere:
            last = waiting
            groups.append((last, p.role))
            waiting = []
        else:  # 所有辅导员: everywhere, and a 系部 named alone before it is the whole 系部
            groups += [([d], None) for d in waiting]
            waiting = []
            groups.append((None if p.everywhere else last, p.role))
    groups += [([d], None) for d in waiting]
    return groups


async def resolve_audience(s, words: str) -> tuple[list[Person], list[str]]:
    """The people the words name, and the pieces not understood."""
    people = (await s.execute(select(Person).order_by(Person.department, Person.userid))).scalars().all()
    departments = sorted({p.department for p in people if p.department}, key=len, reverse=True)
    pieces, unknown = _pieces(words, departments)
    chosen: dict[str, Person] = {}
    for depts, role in _groups(pieces):
        for p in people:
            if (depts is None or p.department in depts) and (role is None or role in p.roles):
                chosen[p.userid] = p
    return list(chosen.values()), unknown
