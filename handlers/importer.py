"""Turns a 教务处 handbook (the 教学常规工作 text export) into workflow spec YAML.

The handbook is a Word table flattened to text: a section header such as
``1.4调停课``, a block of TAB-led labels (项目, 时间, …), then one TAB-led cell per
label, each cell running over several lines.  The importer is deliberately
forgiving (owners missing, arrows split across lines, numbered lists instead of
arrows, sub-flows) so another school's handbook in the same layout imports too.
Owners, kinds, assignees and windows it cannot read are guessed and the guess is
written down in ``note:``; the committed specs are curated by hand afterwards.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from workflow.spec import WorkflowSpec

# ---------------------------------------------------------------- text helpers

_CJK = r"\u3000-\u303f\u4e00-\u9fff\uff00-\uffef"
_TRAIL_PUNCT = "；;。.，,、：:\u3000 \t"
_LABELS = {
    "项目": "item", "时间": "time", "工作内容": "content", "教务处职责": "office",
    "系部职责": "dept", "工作流程": "flow", "工作标准": "standards",
}
_SECTION = re.compile(r"^(\d{1,2})[.．](\d{1,2})\s*([^\d\s.．、].*?)\s*$")
_CATEGORY = re.compile(r"^(\d{1,2})[.．、]\s*([^\d\s.．].*?)\s*$")
# Leading "1." "2．" "3、" "1.." "3. ." or a bare "1" before a Chinese word (1.5 writes "1教学秘书…").
_NUMBERING = re.compile(
    r"^\s*(?:\d{1,2}\s*[.．、]+[\s.．]*|\d{1,2}(?=[\u4e00-\u9fff])(?![年月日周号个次位名人]))"
)
_CN_NUMBERING = re.compile(r"^\s*[一二三四五六七八九十]+\s*[、.．]\s*")
CATEGORIES = ("教学运行", "实践教学", "教学研究", "教学质量")


def _squash(text: str) -> str:
    """Collapse whitespace; drop spaces that only sit next to Chinese text or punctuation."""
    text = re.sub(r"\s+", " ", text).strip()
    return re.sub(rf"(?<=[{_CJK}]) | (?=[{_CJK}])", "", text)


def _strip_number(line: str) -> str:
    return _CN_NUMBERING.sub("", _NUMBERING.sub("", line, count=1), count=1).strip()


def _trim(text: str) -> str:
    return text.strip().rstrip(_TRAIL_PUNCT).strip()


def _label_key(text: str) -> str | None:
    words = re.sub(r"\s+", "", text)
    if words in _LABELS:
        return _LABELS[words]
    if words.endswith("职责"):  # another school may name its departments differently
        return "office" if "教务" in words else "dept"
    return None


# ---------------------------------------------------------------- section split


@dataclass
class Section:
    """One handbook workflow: its header and its cells by label key."""

    code: str
    name: str
    category: str
    cells: dict[str, list[str]] = field(default_factory=dict)  # label key -> raw lines


def _category_value(heading: str, number: str) -> str:
    for value in CATEGORIES:
        if value in heading:
            return value
    idx = int(number) - 1
    if 0 <= idx < len(CATEGORIES):
        return CATEGORIES[idx]
    raise ValueError(f"无法识别分类 {heading!r}：应为 {'、'.join(CATEGORIES)} 之一")


def _next_content(lines: list[str], i: int) -> str | None:
    for line in lines[i + 1:]:
        if line.strip():
            return line
    return None


def _is_section_header(lines: list[str], i: int) -> bool:
    line = lines[i]
    if line.startswith("\t") or not _SECTION.match(line.strip()):
        return False
    nxt = _next_content(lines, i)
    return nxt is not None and nxt.startswith("\t") and _label_key(nxt) == "item"


def _is_category_header(lines: list[str], i: int) -> bool:
    line = lines[i]
    if line.startswith("\t") or not _CATEGORY.match(line.strip()) or _SECTION.match(line.strip()):
        return False
    heading = _CATEGORY.match(line.strip())
    if len(heading.group(2)) > 12 or heading.group(2)[-1] in _TRAIL_PUNCT:
        return False
    for j in range(i + 1, len(lines)):
        if lines[j].strip():  # '2.实践教学管理' is followed by '2.1…'; a standards item '5.…' is not
            nxt = _SECTION.match(lines[j].strip())
            return _is_section_header(lines, j) and int(nxt.group(1)) == int(heading.group(1))
    return False


def _chunks(body: list[str]) -> list[list[str]]:
    """TAB-led chunks, each with its continuation lines.

    Text after two blank lines that no further TAB cell follows is a page footer
    (4.9 ends with '教学常规工作 … 教务处制') and is dropped.
    """
    chunks: list[list[str]] = []
    pending: list[str] = []  # lines after a double blank, kept only if another cell follows
    blanks = 0
    for line in body:
        if line.startswith("\t"):
            if chunks and pending:
                chunks[-1].extend(pending)
            chunks.append([line[1:]])
            pending, blanks = [], 0
        elif not chunks:
            continue
        elif not line.strip():
            blanks += 1
            (pending if pending or blanks >= 2 else chunks[-1]).append("")
        elif pending or blanks >= 2:
            pending.append(line)
        else:
            chunks[-1].append(line)
            blanks = 0
    return chunks


def split_sections(text: str) -> list[Section]:
    """The handbook's workflows in order, each with its labelled cells."""
    lines = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    sections: list[Section] = []
    category: str | None = None
    current: tuple[str, str, str, list[str]] | None = None

    def close() -> None:
        if current is None:
            return
        code, name, cat, body = current
        chunks = _chunks(body)
        keys: list[str] = []
        while len(keys) < len(chunks) and len(keys) < len(_LABELS):
            key = _label_key("".join(chunks[len(keys)]))
            if key is None:
                break
            keys.append(key)
        cells = chunks[len(keys):]
        if "item" not in keys or "flow" not in keys:
            raise ValueError(f"{code}{name}: 找不到“项目”“工作流程”等栏目标题")
        if len(cells) < len(keys):
            raise ValueError(f"{code}{name}: 有 {len(keys)} 个栏目标题，却只有 {len(cells)} 个单元格")
        sections.append(Section(code, name, cat, dict(zip(keys, cells))))

    for i, line in enumerate(lines):
        if _is_category_header(lines, i):
            close()
            current = None
            m = _CATEGORY.match(line.strip())
            category = _category_value(m.group(2), m.group(1))
        elif _is_section_header(lines, i):
            close()
            m = _SECTION.match(line.strip())
            code = f"{int(m.group(1))}.{int(m.group(2))}"
            cat = category or _category_value("", m.group(1))
            current = (code, _squash(m.group(3)), cat, [])
        elif current is not None:
            current[3].append(line)
    close()
    return sections


# ---------------------------------------------------------------- flows and owners

_OWNER_WORDS = ("教务处", "教务", "系部", "各系部", "相关系部", "通识教育部", "教研室", "市教委",
                "各相关方", "其他相关部门", "考核领导小组", "分管领导")
_OWNER_SUFFIX = re.compile(
    r"^(?:各|相关|其他相关)?[\u4e00-\u9fff]{0,10}"
    r"(?:处|部|系|室|组|委|院|办|方|门|中心|会|领导|科|所|团队|教师|秘书|主任|员)$"
)


def _owner_like(text: str) -> bool:
    """Does a （…） read as a party (教务处、系部 / 系部到教务处), not a remark (草案, 班级人数…)?"""
    text = _squash(text)
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
    return [p for p in out if _trim(p)]


def _title_owner(piece: str) -> tuple[str, str]:
    """'拟定方案（教务处）。' -> ('拟定方案', '教务处'); owner '' when the handbook names none."""
    text = _trim(_squash(piece))
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
                        return _trim(text[:i]), _squash(text[i + 1:-1])
                    break
    return text, ""


def _is_flow_header(line: str) -> bool:
    if "→" in line or re.search(r"[（(]", line) or len(line) > 20:
        return False
    return bool(re.search(r"[：:]$", line) or _CN_NUMBERING.match(line)
                or re.match(r"^\d{1,2}\s*[.．、]\s*\S{1,12}$", line))


def _flow_name(line: str) -> str:
    return _strip_number(line).rstrip("：:").strip()


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
        pieces = "".join(body).split("→") if arrows else [_strip_number(b) for b in body]
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
        items = [_trim(_strip_number(d)) for d in duties if d.strip()]
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
        step: dict[str, Any] = {"id": f"s{n}", "title": title, "owner": owner, "kind": kind,
                                "assignees": assignees}
        if join != "all":
            step["join"] = join
        if notes:
            step["note"] = "".join(notes)
        steps.append(step)
    return steps


# ---------------------------------------------------------------- windows

_CN_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8,
              "九": 9, "十": 10, "十一": 11, "十二": 12}
_MONTH_DAYS = {1: 31, 2: 28, 3: 31, 4: 30, 5: 31, 6: 30, 7: 31, 8: 31, 9: 30, 10: 31, 11: 30, 12: 31}


def _num(s: str) -> int:
    return int(s) if s.isdigit() else _CN_DIGITS[s]


def _mmdd(month: int, day: int) -> str:
    return f"{month:02d}-{min(day, _MONTH_DAYS[month]):02d}"


def guess_windows(time_lines: list[str]) -> list[dict]:
    """A rough reading of the 时间 cell; anything unread becomes on_demand."""
    text = _one_line(time_lines)
    windows: list[dict] = []
    n = r"(\d{1,2}|十[一二]?|[一二两三四五六七八九])"
    # Fixed day ranges, each labelled by the line before it: 1.1 '新生学籍注册 / 10月8至25日'.
    label = ""
    ranges = []
    for line in (ln.strip() for ln in time_lines if ln.strip()):
        m = re.search(rf"{n}月(\d{{1,2}})日?\s*[-—至到~]\s*(?:{n}月)?(\d{{1,2}})日", line)
        if m:
            m1, d1 = _num(m.group(1)), int(m.group(2))
            m2 = _num(m.group(3)) if m.group(3) else m1
            ranges.append({"label": label, "start": _mmdd(m1, d1), "end": _mmdd(m2, int(m.group(4)))})
            label = ""
        else:
            label = _trim(line)
    if ranges:
        windows.append({"kind": "fixed", "ranges": ranges})
    for m in re.finditer(rf"{n}月(上|中|下|中下|上中)旬", text):
        month = _num(m.group(1))
        first, last = {"上": (1, 10), "中": (11, 20), "下": (21, 31), "中下": (11, 31), "上中": (1, 20)}[m.group(2)]
        windows.append({"kind": "fixed", "ranges": [{"label": m.group(0), "start": _mmdd(month, first),
                                                     "end": _mmdd(month, last)}]})
    m = re.search(rf"{n}月前(两|二|一|三)周", text)
    if m:
        month, weeks = _num(m.group(1)), _num(m.group(2))
        windows.append({"kind": "fixed", "ranges": [{"label": m.group(0), "start": _mmdd(month, 1),
                                                     "end": _mmdd(month, 7 * weeks)}]})
    m = re.search(rf"{n}月\s*第(\d)周", text)
    if m:
        month, week = _num(m.group(1)), int(m.group(2))
        windows.append({"kind": "fixed", "ranges": [{"label": m.group(0), "start": _mmdd(month, 7 * week - 6),
                                                     "end": _mmdd(month, 7 * week)}]})
    if windows:
        return windows
    m = re.search(r"第\s*(\d{1,2})\s*(?:周)?\s*[-—至到~]\s*(?:第)?\s*(\d{1,2})\s*周", text) or \
        re.search(r"第\s*(\d{1,2})\s*周", text)
    if m:
        weeks = [int(m.group(1)), int(m.group(m.lastindex))]
        windows.append({"kind": "teaching_weeks", "weeks": weeks})
    m = re.search(r"每\s*(\d{1,2})\s*周", text)
    if m:
        windows.append({"kind": "every_n_weeks", "every": int(m.group(1))})
    if "每月" in text:
        windows.append({"kind": "monthly"})
    if re.search(r"(?:三|3)年", text):
        windows.append({"kind": "months", "label": text, "from_month": 1, "to_month": 12, "every_years": 3})
    if not windows:
        m = re.search(rf"{n}\s*月?\s*(?:份)?\s*[-—至到~]\s*(?:次年)?\s*{n}\s*月", text)
        if m and _num(m.group(1)) > _num(m.group(2)):  # '9月至次年5月': a date range may cross new year
            first, last = _num(m.group(1)), _num(m.group(2))
            windows.append({"kind": "fixed", "ranges": [{"label": m.group(0), "start": _mmdd(first, 1),
                                                         "end": _mmdd(last, 31)}]})
        elif m:
            windows.append({"kind": "months", "from_month": _num(m.group(1)), "to_month": _num(m.group(2))})
        else:  # '1月、10月报名 3月、12月考试': the first list holds the sign-up / start months
            m = re.search(rf"((?:{n}月?、)*{n})\s*月", text)
            for month in re.findall(r"\d{1,2}|十[一二]?|[一二两三四五六七八九]", m.group(1)) if m else []:
                windows.append({"kind": "months", "from_month": _num(month), "to_month": _num(month)})
    seasons = [s for s, words in (("春季", "春"), ("秋季", "秋")) if words in text]
    if seasons and not windows:
        windows.append({"kind": "seasons", "seasons": seasons})
    if re.search(r"开学|学期初", text):
        windows.append({"kind": "semester_phase", "phase": "开学"})
    if re.search(r"期末|学期末", text):
        windows.append({"kind": "semester_phase", "phase": "期末"})
    if re.search(r"学期中", text):
        windows.append({"kind": "teaching_weeks", "label": "学期中", "weeks": [9, 10]})
    if not windows or re.search(r"不定期|不定时", text):
        windows.append({"kind": "on_demand"})
    for w in windows:
        if len(windows) == 1 and not w.get("label"):
            w["label"] = text
    return windows


# ---------------------------------------------------------------- specs


def _text_block(lines: list[str]) -> str:
    """A cell as readable text: one line per item, repeated items dropped (1.1 lists its work twice)."""
    out: list[str] = []
    seen: set[str] = set()
    for line in lines:
        line = _squash(line)
        key = _trim(line)
        if not key or key in seen:
            continue
        seen.add(key)
        out.append(line)
    return "\n".join(out)


def _one_line(lines: list[str]) -> str:
    """A cell on one line, whitespace-normalized: Word's wraps vanish ('每三年/一周期' -> 每三年一周期),
    but a space is kept after a date that ends an item (1.1: '…10月8至25日 在校生学年注册…')."""
    out = ""
    for part in (_squash(line) for line in lines if line.strip()):
        if out and re.search(r"\d日$", out) and not part[0].isdigit():
            out += " "
        elif out and not (re.match(rf"[{_CJK}]", out[-1]) or re.match(rf"[{_CJK}]", part[0])):
            out += " "
        out += part
    return out


def _standards(lines: list[str]) -> list[str]:
    """工作标准 as checklist items, numbering stripped ('1..注重…', '3. .应…', '3做好…' all occur)."""
    items: list[str] = []
    for line in lines:
        for part in re.split(r"(?<=[；;。])\s*(?=\d{1,2}\s*[.．、])", line):
            item = _trim(_strip_number(_squash(part)))
            if item:
                items.append(item)
    return items


def _aliases(name: str) -> list[str]:
    """A starting point for chat words (教材管理 -> 教材); the curated specs add the real ones."""
    short = re.sub(r"(建设与管理|建设及管理|修订与管理|制定和管理|管理|建设|工作|组织|办理|实施)$", "", name)
    return [short] if short and short != name and len(short) >= 2 else []


def section_spec(sec: Section) -> dict[str, Any]:
    """The spec dict for one section, keys in the committed order."""
    office, dept = sec.cells.get("office", []), sec.cells.get("dept", [])
    flows = split_flows(sec.cells["flow"])
    if not flows:
        raise ValueError(f"{sec.code}{sec.name}: 工作流程为空")
    spec: dict[str, Any] = {
        "code": sec.code,
        "name": sec.name,
        "category": sec.category,
        "owner": "教务处",
        "starters": ["教务处"],
        "aliases": _aliases(sec.name),
        "time": _one_line(sec.cells.get("time", [])),
        "content": _text_block(sec.cells.get("content", [])),
        "windows": guess_windows(sec.cells.get("time", [])),
    }
    if len(flows) == 1:
        spec["steps"] = build_steps(flows[0][1], office, dept)
    else:
        spec["flows"] = [{"id": f"f{i}", "name": fname or sec.name, "steps": build_steps(raw, office, dept)}
                         for i, (fname, raw) in enumerate(flows, 1)]
    spec["standards"] = _standards(sec.cells.get("standards", []))
    return spec


def parse_handbook(text: str) -> list[dict]:
    """Every workflow of a handbook as a spec dict (validated against the schema)."""
    specs = []
    for sec in split_sections(text):
        spec = section_spec(sec)
        try:
            WorkflowSpec.model_validate(spec)
        except ValidationError as exc:  # an importer gap: say which section, keep pydantic's detail
            raise ValueError(f"{sec.code}{sec.name}: 导入结果不符合规格：{exc}") from None
        specs.append(spec)
    if not specs:
        raise ValueError("没有找到任何工作流程：章节标题应形如“1.4调停课”，其后是 TAB 开头的“项目”等栏目")
    return specs


# ---------------------------------------------------------------- YAML output


class _Flow(list):
    """A list written on one line: [a, b]."""


class _FlowMap(dict):
    """A mapping written on one line: {party: 系部, role: 教学秘书}."""


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)
_Dumper.add_representer(_Flow, lambda d, v: d.represent_sequence("tag:yaml.org,2002:seq", v, flow_style=True))
_Dumper.add_representer(_FlowMap, lambda d, v: d.represent_mapping("tag:yaml.org,2002:map", v.items(),
                                                                   flow_style=True))


def _styled(value: Any, key: str = "") -> Any:
    """Mark what is written inline (assignees, date ranges, short lists) so a spec stays scannable."""
    if isinstance(value, dict) and key == "windows":
        value = {k: value[k] for k in sorted(value, key=lambda k: {"kind": 0, "label": 1}.get(k, 2))}
    if isinstance(value, dict):
        styled = {k: _styled(v, k) for k, v in value.items()}
        return _FlowMap(styled) if key == "assignees" or "start" in value and "end" in value else styled
    if isinstance(value, list):
        items = [_styled(v, key) for v in value]
        if key == "assignees":
            return items
        if all(isinstance(v, (str, int)) for v in value) and key != "standards":
            return _Flow(items)
        return items
    return value


def dump_spec(spec: dict) -> str:
    """YAML for one spec: readable Chinese, keys in the order given, short lists inline."""
    header = f"# {spec['code']} {spec['name']} — 由教务处工作手册导入（handlers/importer.py），请人工核对。\n"
    body = yaml.dump(_styled(spec), Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=1000)
    return header + body


def import_handbook(src: Path, out_dir: Path) -> list[Path]:
    """Write ``<code>.yaml`` for every workflow in the handbook ``src``; returns the files."""
    specs = parse_handbook(Path(src).read_text(encoding="utf-8"))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for spec in specs:
        path = out_dir / f"{spec['code']}.yaml"
        path.write_text(dump_spec(spec), encoding="utf-8")
        paths.append(path)
    return paths
