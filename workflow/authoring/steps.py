"""Reads a 工作流程 cell into steps: flows, titles, owners, kinds and assignees (guessed, with a note)."""
from __future__ import annotations

import re
from difflib import SequenceMatcher
from typing import Any

from workflow.authoring.sections import CN_NUMBERING, squash, strip_number, trim

_OWNER_WORDS = ("教务处", "教务", "系部", "各系部", "相关系部", "通识教育部", "教研室", "市教委",
                "各相关方", "其他相关部门", "考核领导小组", "分管领导")
_OWNER_SUFFIX = re.compile(
    r"^(?:各|相关|其他相关)?[\u4e00-\u9fff]{0,10}"
    r"(?:处|部|系|室|组|委|院|办|方|门|中心|会|领导|科|所|团队|教师|秘书|主任|员)$"
)


def _owner_like(text: str) -> bool:
    """Does a （…） read as a party (教务处、系部 / 系部到教务处), not a remark (草案, 班级人数…)?"""
    text = squash(text)
    if not text or len(text) > 24 or re.search(r"[，,。；;：:等的\d]", text):
        return False
    parts = re.split(r"[、和与及]|到|向", text)
    return all(p in _OWNER_WORDS or _OWNER_SUFFIX.match(p) for p in parts if p) and any(parts)


def _split_glued(piece: str) -> list[str]:
    """Split steps the handbook forgot to join with →: '…（系部）管理员上报…（教务处）'."""
    out: list[str] = []
    start = 0
    for m in re.finditer(r"[（(]([^（）()]*)[）)]", piece):
        rest = piece[m.end():]
        if rest and re.match(r"[\u4e00-\u9fff]", rest) and _owner_like(m.group(1)):
            out.append(piece[start:m.end()])
            start = m.end()
    out.append(piece[start:])
    return [p for p in out if trim(p)]


def _title_owner(piece: str) -> tuple[str, str]:
    """'拟定方案（教务处）。' -> ('拟定方案', '教务处'); owner '' when the handbook names none."""
    text = trim(squash(piece))
    while text.count("）") + text.count(")") > text.count("（") + text.count("(") and text[-1] in "）)":
        text = text[:-1].rstrip()  # 2.3: '（教务处、系部））'
    if text and text[-1] in "）)":
        depth = 0
        for i in range(len(text) - 1, -1, -1):
            if text[i] in "）)":
                depth += 1
            elif text[i] in "（(":
                depth -= 1
                if depth == 0:
                    if _owner_like(text[i + 1:-1]):
                        return trim(text[:i]), squash(text[i + 1:-1])
                    break
    return text, ""


def _is_flow_header(line: str) -> bool:
    if "→" in line or re.search(r"[（(]", line) or len(line) > 20:
        return False
    return bool(re.search(r"[：:]$", line) or CN_NUMBERING.match(line)
                or re.match(r"^\d{1,2}\s*[.．、]\s*\S{1,12}$", line))


def _flow_name(line: str) -> str:
    return strip_number(line).rstrip("：:").strip()


def split_flows(cell: list[str]) -> list[tuple[str | None, list[tuple[str, str]]]]:
    """工作流程 -> [(flow name or None, [(title, owner), …])]."""
    lines = [ln.strip() for ln in cell if ln.strip()]
    arrows = any("→" in ln for ln in lines)
    groups: list[tuple[str | None, list[str]]] = []
    pending: list[str] = []  # header lines not yet followed by a step
    for line in lines:
        if _is_flow_header(line) and (arrows or re.search(r"[：:]$", line)):
            pending.append(line)
            continue
        if pending:  # '二、实训室管理' + '1.设备故障' -> a flow named 设备故障
            groups.append((_flow_name(pending[-1]), []))
            pending = []
        elif not groups:
            groups.append((None, []))
        groups[-1][1].append(line)

    flows = []
    for fname, body in groups:
        pieces = "".join(body).split("→") if arrows else [strip_number(b) for b in body]
        steps: list[tuple[str, str]] = []
        for piece in pieces:
            for part in _split_glued(piece):
                title, owner = _title_owner(part)
                if title:
                    steps.append((title, owner))
        if steps:
            flows.append((fname, steps))
    return flows


_SUBJECTS = [
    ("教务处", "教务处"), ("教务", "教务处"), ("各系部", "系部"), ("相关系部", "系部"), ("系部", "系部"),
    ("教学秘书", "系部"), ("辅导员", "系部"), ("系部主任", "系部"), ("系主任", "系部"),
    ("教研室主任", "系部"), ("教研室", "系部"), ("任课教师", "系部"), ("通识教育部", "通识教育部"),
]


def _subject_owner(title: str) -> str:
    """The party a step's sentence starts with: '教学秘书将…' -> 系部; '教务处和系部召开…' -> 教务处、系部."""
    found: list[str] = []
    rest = title
    while True:
        for word, party in sorted(_SUBJECTS, key=lambda s: -len(s[0])):
            if rest.startswith(word):
                if party not in found:
                    found.append(party)
                rest = rest[len(word):]
                break
        else:
            break
        if rest[:1] in ("和", "、", "与", "及"):
            rest = rest[1:]
            continue
        break
    return "、".join(found)


def _similarity(a: str, b: str) -> float:
    return SequenceMatcher(None, a, b).ratio()


def guess_owner(title: str, office: list[str], dept: list[str]) -> tuple[str, str]:
    """(owner, why) for a step the handbook gives no owner."""
    subject = _subject_owner(title)
    if subject:
        return subject, "句首主语"
    scores = {}
    for party, duties in (("教务处", office), ("系部", dept)):
        items = [trim(strip_number(d)) for d in duties if d.strip()]
        scores[party] = max((_similarity(title, it) for it in items), default=0.0)
    best = max(scores, key=scores.get)
    if scores[best] >= 0.5 and scores[best] - min(scores.values()) >= 0.1:
        return best, f"{best}职责所列"
    return "教务处", "教务处组织本流程"


# ---------------------------------------------------------------- kinds and assignees

_KIND_RULES = [
    ("approve", r"(?<!经)审核(?!名单|通过的)|审批|审定|审议|签字|批准|批复"),
    ("upload", r"上报|上交|提交|报送|交到?教务处|收集.*(?:表|名单|资料|材料)|汇总.*名单"),
    ("notice", r"通知|发布|下发|公布|通报|分发"),
    ("confirm", r"确认|核对"),
]
_ROLE_WORDS = [("辅导员", "辅导员"), ("系部主任", "系部主任"), ("系主任", "系部主任"), ("系部负责人", "系部主任"),
               ("教研室主任", "教研室主任"), ("任课教师", "任课教师")]


def guess_kind(title: str, owner: str = "") -> str:
    """By keywords; 教务处 reporting outward (上报校长办公会, 报送市教委) is a task, not an upload."""
    for kind, pattern in _KIND_RULES:
        if re.search(pattern, title):
            if kind == "upload" and owner_parties(owner) == ["教务处"]:
                return "task"
            return kind
    return "task"


def owner_parties(owner: str) -> list[str]:
    """Bot parties named by an owner text; the actor comes first in '系部到教务处'."""
    actor = re.split(r"到|向", owner)[0] if re.search(r"到|向", owner) else owner
    parties: list[str] = []
    for part in re.split(r"[、，,和与及]", actor):
        party = {"教务处": "教务处", "教务": "教务处", "通识教育部": "通识教育部",
                 "分管领导": "分管领导", "教务处分管领导": "分管领导"}.get(part)
        if party is None and re.search(r"系部|系$|学院$|教研室", part):  # 各系部, 二级学院, 教研室
            party = "系部"
        if party and party not in parties:
            parties.append(party)
    return parties


def guess_assignees(title: str, owner: str, kind: str) -> tuple[list[dict], str, str | None]:
    """(assignees, join, note) from the owner text and the step's words."""
    parties = owner_parties(owner)
    note = None
    if not parties:
        parties = ["教务处"]
        note = f"负责方“{owner}”不是本系统的用户，由教务处代为跟进。"
    if kind == "approve" and "分管领导" in title:
        return [{"party": "分管领导"}], "all", note
    if kind == "notice" and parties == ["教务处"]:
        return ([{"party": "系部", "role": "教学秘书"}], "all",
                "教务处发出的通知送达各系部教学秘书，由其确认收到。")
    role = "教研室主任" if "教研室" in owner else "教学秘书"
    for word, r in _ROLE_WORDS:
        if word in title:
            role = r
            break
    out: list[dict] = []
    for party in parties:
        out.append({"party": party, "role": role} if party in ("系部", "通识教育部") else {"party": party})
    join = "any" if parties == ["教务处"] else "all"
    return out, join, note


def draft_label(title: str) -> str:
    """A first draft of the step's short label (its first clause, at most 10 characters), to be curated by hand."""
    clause = re.split(r"[，,、；;。（(]", title)[0]
    clause = re.sub(r"[\s：:）)“”《》]", "", clause)
    clause = re.sub(r"^(各系部|系部|教务处|教学秘书)(?=.{2})", "", clause)
    return clause[:10] if len(clause) >= 2 else "办理本步"


def build_steps(raw: list[tuple[str, str]], office: list[str], dept: list[str]) -> list[dict]:
    """Spec steps for one flow; ``office``/``dept`` are the 职责 cells used to guess missing owners."""
    steps = []
    for n, (title, owner) in enumerate(raw, 1):
        notes = []
        if not owner:
            owner, why = guess_owner(title, office, dept)
            notes.append(f"手册此步未注明负责方；按{why}推定为{owner}。")
        kind = guess_kind(title, owner)
        assignees, join, note = guess_assignees(title, owner, kind)
        if note:
            notes.append(note)
        step: dict[str, Any] = {"id": f"s{n}", "title": title, "label": draft_label(title), "owner": owner,
                                "kind": kind, "assignees": assignees}
        if join != "all":
            step["join"] = join
        if notes:
            step["note"] = "".join(notes)
        steps.append(step)
    return steps


