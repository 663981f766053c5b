"""The handbook's layout: section headers, TAB-led labels and their cells, as plain text.

The handbook is a Word table flattened to text: a section header such as
``1.4调停课``, a block of TAB-led labels (项目, 时间, …), then one TAB-led cell per
label, each cell running over several lines. The text helpers here are shared by
the step and window readers.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

# ---------------------------------------------------------------- text helpers

CJK = r"\u3000-\u303f\u4e00-\u9fff\uff00-\uffef"
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
CN_NUMBERING = re.compile(r"^\s*[一二三四五六七八九十]+\s*[、.．]\s*")
CATEGORIES = ("教学运行", "实践教学", "教学研究", "教学质量")


def squash(text: str) -> str:
    """Collapse whitespace; drop spaces that only sit next to Chinese text or punctuation."""
    text = re.sub(r"\s+", " ", text).strip()
    return re.sub(rf"(?<=[{CJK}]) | (?=[{CJK}])", "", text)


def strip_number(line: str) -> str:
    return CN_NUMBERING.sub("", _NUMBERING.sub("", line, count=1), count=1).strip()


def trim(text: str) -> str:
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
            current = (code, squash(m.group(3)), cat, [])
        elif current is not None:
            current[3].append(line)
    close()
    return sections



def one_line(lines: list[str]) -> str:
    """A cell on one line, whitespace-normalized: Word's wraps vanish ('每三年/一周期' -> 每三年一周期),
    but a space is kept after a date that ends an item (1.1: '…10月8至25日 在校生学年注册…')."""
    out = ""
    for part in (squash(line) for line in lines if line.strip()):
        if out and re.search(r"\d日$", out) and not part[0].isdigit():
            out += " "
        elif out and not (re.match(rf"[{CJK}]", out[-1]) or re.match(rf"[{CJK}]", part[0])):
            out += " "
        out += part
    return out
