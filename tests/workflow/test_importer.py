"""The handbook importer against the real handbook, the committed specs and another school's text.

Compared with the committed specs (the curated truth), field by field:
  code, name, category, time, standards;
  flows: their names in order (a spec without branches is one flow named after the spec);
  steps: per flow, (title, owner) in order — owner is the handbook's words, or, where the
  handbook names none, the importer's guess (and then both sides carry a note saying so).
Not compared (curated by hand): ids, kind, assignees, join, windows, aliases, starters,
handler/form/columns/accept, content and the wording of notes.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from workflow.authoring.importer import dump_spec, import_handbook, parse_handbook
from workflow.authoring.steps import split_flows
from workflow.registry import load_spec_file, load_specs

HANDBOOK = Path(__file__).resolve().parents[3] / "shared/handbook/handbook.txt"
needs_handbook = pytest.mark.skipif(not HANDBOOK.exists(), reason=f"手册文本不在 {HANDBOOK}（共享目录未挂载）")


def _shape(spec) -> dict:
    return {
        "code": spec.code, "name": spec.name, "category": spec.category, "time": spec.time,
        "standards": spec.standards,
        "flows": [(f.name, [(s.title, s.owner) for s in _handbook_steps(f)]) for f in spec.all_flows()],
    }


def _handbook_steps(flow) -> list:
    """The steps the handbook has: the ones the college added (``added: true``) are left out."""
    return [s for s in flow.steps if not s.added]


@pytest.fixture(scope="module")
def imported(tmp_path_factory) -> list[Path]:
    if not HANDBOOK.exists():
        pytest.skip(f"手册文本不在 {HANDBOOK}")
    return import_handbook(HANDBOOK, tmp_path_factory.mktemp("imported"))


@needs_handbook
def test_every_imported_file_loads(imported):
    assert [p.name for p in imported] == [f"{s}.yaml" for s in load_specs()]
    for path in imported:
        load_spec_file(path)


@needs_handbook
def test_imported_matches_committed(imported):
    committed = load_specs()
    fresh = {s.code: s for s in (load_spec_file(p) for p in imported)}
    assert list(fresh) == list(committed)
    for code, spec in committed.items():
        assert _shape(fresh[code]) == _shape(spec), code


@needs_handbook
def test_guessed_owners_are_noted_on_both_sides(imported):
    committed = load_specs()
    guessed = 0
    for path in imported:
        fresh = load_spec_file(path)
        for flow, curated in zip(fresh.all_flows(), committed[fresh.code].all_flows()):
            for new, old in zip(flow.steps, _handbook_steps(curated)):
                if new.note and "未注明负责方" in new.note:
                    guessed += 1
                    assert old.note and "未注明" in old.note, (fresh.code, old.id, old.title)
    assert guessed == 23  # 1.4×1, 1.5×9, 1.6×4, 3.3×1, 3.4×6, 3.5×1, 3.8×1


@needs_handbook
def test_handbook_irregularities():
    specs = {s["code"]: s for s in parse_handbook(HANDBOOK.read_text(encoding="utf-8"))}

    def steps(code, flow=0):
        spec = specs[code]
        return spec["flows"][flow]["steps"] if "flows" in spec else spec["steps"]

    # 2.11: '二、实训室管理' only groups the two sub-flows; a missing → is split at '（系部）'.
    assert [f["name"] for f in specs["2.11"]["flows"]] == ["新建实训室", "设备故障", "临时申请"]
    assert [(s["title"], s["owner"]) for s in steps("2.11", 1)[:2]] == [
        ("联系管理员，说明故障情况", "系部"), ("管理员上报教务处，校内自检", "教务处")]
    # 1.5: a numbered list with a repeated '4.' and an unnumbered line, and no owners at all.
    assert len(steps("1.5")) == 9 and steps("1.5")[7]["title"] == "学生补退选课程"
    # 1.1: the owner wraps onto the next line; 1.4: the arrow ends a line.
    assert steps("1.1")[4]["owner"] == "教务处" and steps("1.4")[2]["owner"] == "教务处"
    # 1.8: a remark in （） before the owner, and '。' before the owner.
    assert steps("1.8")[3]["owner"] == "各系部" and "学生签字" in steps("1.8")[3]["title"]
    assert steps("1.8")[13]["title"] == "代收专升本录取通知书，转发到各系部发放"
    # 2.3: '（教务处、系部））'; 3.1: '（教务处）。'; 4.6: '（教务处到系部）'.
    assert steps("2.3")[-1]["owner"] == "教务处、系部"
    assert steps("3.1")[-1]["owner"] == "教务处"
    feedback = steps("4.6")[5]
    assert feedback["owner"] == "教务处到系部" and feedback["kind"] == "notice"
    assert feedback["assignees"] == [{"party": "系部", "role": "教学秘书"}]  # a notice goes to its readers
    # 4.5: '（草案）' stays in the title.
    assert steps("4.5")[2]["title"] == "制定质量保障体系建设方案（草案）"
    # 4.9: the page footer after the last section is not a standard.
    assert specs["4.9"]["standards"][-1].startswith("本系部考核小组")
    # 2.2: two sign-up months.
    assert [(w["from_month"], w["to_month"]) for w in specs["2.2"]["windows"]] == [(1, 1), (10, 10)]


def test_flow_header_and_glued_steps():
    cell = ["一、甲流程", "起草方案（教务处）→审核（分管领导）", "二、乙", "1.子流程", "上报（系部）汇总（教务处）"]
    assert split_flows(cell) == [("甲流程", [("起草方案", "教务处"), ("审核", "分管领导")]),
                                 ("子流程", [("上报", "系部"), ("汇总", "教务处")])]


ANOTHER_SCHOOL = """\
1.教学运行管理
1.1排课管理
\t项目
\t时间
\t工作
内容
\t教务处职责
\t二级学院职责
\t工作流程
\t工作标准

\t排课
\t每学期第17-18周
\t编排下学期课表
\t1.发布排课通知；
2.编排课表。
\t1.提交排课需求表；
2.核对课表。
\t发布排课通知（教务处）→提交排课需求表（二级学院）→编排下学期
课表（教务处）→教务处分管领导审核签字（分管领导）→各学院核对课表
\t1.课表不冲突；
2.按时发布。


"""


def test_another_school(tmp_path):
    src = tmp_path / "handbook.txt"
    src.write_text(ANOTHER_SCHOOL, encoding="utf-8")
    (path,) = import_handbook(src, tmp_path / "specs")
    assert path.name == "1.1.yaml"
    spec = load_spec_file(path)
    assert (spec.code, spec.name, spec.category, spec.time) == ("1.1", "排课管理", "教学运行", "每学期第17-18周")
    assert [(s.title, s.owner, s.kind) for s in spec.steps] == [
        ("发布排课通知", "教务处", "notice"),
        ("提交排课需求表", "二级学院", "upload"),
        ("编排下学期课表", "教务处", "task"),
        ("教务处分管领导审核签字", "分管领导", "approve"),
        ("各学院核对课表", "系部", "confirm"),  # guessed from 二级学院职责
    ]
    assert spec.steps[1].assignees[0].party == "系部"
    assert spec.steps[3].assignees[0].party == "分管领导"
    assert "未注明" in spec.steps[4].note
    assert spec.windows[0].kind == "teaching_weeks" and spec.windows[0].weeks == (17, 18)
    assert spec.standards == ["课表不冲突", "按时发布"]


def test_output_is_readable_and_stable():
    spec = parse_handbook(ANOTHER_SCHOOL)[0]
    text = dump_spec(spec)
    assert "排课管理" in text and "\\u" not in text
    assert dump_spec(parse_handbook(ANOTHER_SCHOOL)[0]) == text
    keys = list(yaml.safe_load(text))
    assert keys == ["code", "name", "category", "owner", "starters", "aliases", "time", "content", "windows",
                    "steps", "standards"]


def test_not_a_handbook():
    with pytest.raises(ValueError, match="没有找到"):
        parse_handbook("随便一段文字\n没有章节")
