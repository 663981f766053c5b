"""The committed workflow specs: all 45 load, are faithful in shape, and carry the data handlers.

What the engine and the calendar rely on is pinned here; the step texts themselves are
checked against the handbook in test_importer.py.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from workflow.registry import SPEC_DIR, SpecError, find_spec, load_specs
from workflow.spec import Assignee, Step

CODES = [f"1.{i}" for i in range(1, 9)] + [f"2.{i}" for i in range(1, 17)] + \
        [f"3.{i}" for i in range(1, 13)] + [f"4.{i}" for i in range(1, 10)]
CATEGORY = {"1": "教学运行", "2": "实践教学", "3": "教学研究", "4": "教学质量"}


@pytest.fixture(scope="module")
def specs():
    return load_specs()


def _steps(spec):
    return [step for flow in spec.all_flows() for step in flow.steps]


def _step(specs, code, handler):
    found = [s for s in _steps(specs[code]) if s.handler == handler]
    assert len(found) == 1, f"{code}: expected one step with handler {handler}"
    return found[0]


def test_all_45_load_in_order(specs):
    assert list(specs) == CODES
    for code, spec in specs.items():
        assert spec.category == CATEGORY[code[0]], code
        assert (SPEC_DIR / f"{code}.yaml").exists()


def test_every_step_has_owner_title_and_assignees(specs):
    for code, spec in specs.items():
        for step in _steps(spec):
            assert step.owner.strip() and step.title.strip(), (code, step.id)
            assert step.assignees, (code, step.id)


def test_every_step_has_a_short_label_in_the_readers_voice(specs):
    """Cards and 进度 say the label; the handbook's sentence stays the step's title (its description)."""
    for code, spec in specs.items():
        for step in _steps(spec):
            assert 2 <= len(step.label) <= 10, (code, step.id, step.label)
            assert step.label != step.title or len(step.title) <= 10, (code, step.id)
    adjust = {s.id: s.label for s in _steps(specs["1.4"])}
    assert adjust["dept_approve"] == "系部主任审批" and adjust["adjust"] == "教务处调整课表"
    assert adjust["notify_class"] == "通知班级"


def test_a_missing_or_long_label_is_named(tmp_path):
    err = _broken(tmp_path, "2.9.yaml", lambda d: d["steps"][2].pop("label"))
    assert any("2.9.yaml" in p and "step s3" in p and "label" in p for p in err.problems), err.problems
    err = _broken(tmp_path, "2.9.yaml", lambda d: d["steps"][2].update(label="审核系部顶岗实习方案并反馈意见"))
    assert any("step s3" in p and "label" in p for p in err.problems), err.problems


def test_internal_notes_stay_out_of_what_people_read(specs):
    """手册未写… and other notes live in ``note`` fields (steps and windows), never in labels."""
    for code, spec in specs.items():
        for window in spec.windows:
            assert "手册未" not in window.label and "：" not in window.label, (code, window.label)
        for step in _steps(spec):
            assert "手册未" not in step.label and "手册此步" not in step.label, (code, step.id)
    assert any(w.note for w in specs["3.9"].windows)


def test_steps_owned_by_both_go_to_both_and_join_all(specs):
    for code, spec in specs.items():
        for step in _steps(spec):
            joint = "教务" in step.owner and "系部" in step.owner and not any(w in step.owner for w in "到向")
            if joint:
                parties = {a.party for a in step.assignees}
                assert {"教务处", "系部"} <= parties and step.join == "all", (code, step.id, step.owner)


def test_branches(specs):
    assert [f.name for f in specs["1.7"].flows] == ["开学补考及毕业大补考", "期末考试"]
    assert [f.name for f in specs["2.11"].flows] == ["新建实训室", "设备故障", "临时申请"]
    assert all(not s.flows for c, s in specs.items() if c not in ("1.7", "2.11"))


def test_data_handlers(specs):
    s = _step(specs, "1.1", "abnormal_students")
    assert s.kind == "upload" and s.columns == ["学号", "姓名", "班级", "异常类型"] and "xlsx" in s.accept
    assert s.optional_columns == ["说明"] and s.sheet_columns()[-1] == "说明"
    assert s.assignees[0].party == "系部" and s.title == "汇总异常信息学生名单，上报教务处"
    s = _step(specs, "1.6", "workload_check")
    assert s.kind == "confirm" and specs["1.6"].steps[0] is s
    assert s.assignees[0].party == "系部" and s.assignees[0].role == "任课教师"
    s = _step(specs, "1.6", "attendance_sheets")
    assert s.kind == "upload" and specs["1.6"].steps[1] is s and "xlsx" in s.accept
    assert s.columns == ["工号", "姓名", "请假课时"] and s.optional_columns == ["晚自习课时", "选修课课时"]
    s = _step(specs, "1.7", "makeup_list_check")
    assert s.kind == "confirm" and s in specs["1.7"].flow("makeup").steps
    assert s.title == "筛选出需补考的学生名单及科目，并发给系部核对"
    for code in ("2.1", "2.2", "2.3", "2.4"):
        s = _step(specs, code, "exam_signup_count")
        assert s.kind in ("form", "upload") and "系部" in s.owner
        if s.kind == "form":
            assert s.form == "exam_signup_count"
    s = _step(specs, "4.7", "evaluation_completion")
    assert "系部" in s.owner and s.assignees[0].party == "系部"


def test_a_sheet_may_come_in_any_office_format(specs):
    """Where a spreadsheet is expected, .xls and .csv are as welcome as .xlsx (one reader for all)."""
    for code, spec in specs.items():
        for step in _steps(spec):
            if step.columns:
                assert step.accept and "xlsx" in step.accept, (code, step.id)
            if step.accept and "xlsx" in step.accept:
                assert {"xls", "csv"} <= set(step.accept), (code, step.id, step.accept)


def test_optional_columns_need_required_ones_and_never_overlap():
    base = dict(id="s1", title="上报名单", label="上报名单", owner="系部", kind="upload", assignees=[{"party": "系部"}])
    with pytest.raises(ValidationError, match="必填列"):
        Step(**base, optional_columns=["说明"])
    with pytest.raises(ValidationError, match="既必填又选填"):
        Step(**base, columns=["学号", "说明"], optional_columns=["说明"])


def test_general_education_owns_its_two(specs):
    for code in ("2.15", "2.16"):
        owned = [s for s in _steps(specs[code]) if "通识教育部" in s.owner]
        assert owned and all(any(a.party == "通识教育部" for a in s.assignees) for s in owned)


def test_starters(specs):
    assert specs["1.4"].starters == ["任课教师"]
    assert specs["2.11"].starters == ["教务处", "教学秘书", "系部主任"]


def test_windows(specs):
    def kinds(code):
        return [w.kind for w in specs[code].windows]

    fixed = specs["1.1"].windows[0]
    assert [(r.label, r.start, r.end) for r in fixed.ranges] == [
        ("新生学籍注册", "10-08", "10-25"), ("在校生学年注册", "09-01", "09-25"), ("毕业生学历注册", "06-20", "06-28")]
    assert specs["1.5"].windows[0].weeks == (3, 3)
    assert specs["1.6"].windows[0].every == 4
    assert kinds("2.1") == ["monthly"]
    w = specs["1.8"].windows[0]
    assert (w.kind, w.from_month, w.to_month) == ("months", 3, 6)
    assert specs["2.4"].windows[0].seasons == ["春季"]
    assert specs["2.7"].windows[0].seasons == ["春季", "秋季"]
    assert specs["4.7"].windows[0].weeks == (15, 16)
    assert specs["3.12"].windows[0].weeks == (16, 18)
    assert specs["3.6"].windows[0].every_years == 3
    assert kinds("1.7") == ["semester_phase", "semester_phase", "months"]
    assert [w.phase for w in specs["1.7"].windows[:2]] == ["开学", "期末"]
    assert kinds("1.4") == kinds("2.10") == ["on_demand"]


def test_aliases_are_unique_and_found(specs):
    seen: dict[str, str] = {}
    for code, spec in specs.items():
        assert spec.aliases, code
        for alias in spec.aliases:
            assert alias not in seen or seen[alias] == code, f"{alias}: {seen.get(alias)} 与 {code}"
            seen[alias] = code
            assert find_spec(specs, alias).code == code


def test_files_are_readable_chinese():
    for path in SPEC_DIR.glob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        assert "\\u" not in text, path.name
        assert list(yaml.safe_load(text))[:3] == ["code", "name", "category"], path.name


def _broken(tmp_path: Path, name: str, edit) -> SpecError:
    target = tmp_path / name
    shutil.copy(SPEC_DIR / name, target)
    data = yaml.safe_load(target.read_text(encoding="utf-8"))
    edit(data)
    target.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    with pytest.raises(SpecError) as err:
        load_specs(tmp_path)
    return err.value


def test_broken_step_kind_names_file_step_and_field(tmp_path):
    err = _broken(tmp_path, "2.9.yaml", lambda d: d["steps"][2].update(kind="foo"))
    assert any("2.9.yaml" in p and "step s3" in p and "kind" in p for p in err.problems), err.problems


def test_broken_flow_step_names_the_flow(tmp_path):
    err = _broken(tmp_path, "2.11.yaml", lambda d: d["flows"][1]["steps"][1].update(owner=""))
    assert any("2.11.yaml" in p and "flow fault" in p and "step s2" in p and "owner" in p
               for p in err.problems), err.problems


def test_cover_asks_the_substitute_first_and_only_for_a_cover(specs):
    """1.4: the step the college added; the substitute named in the form, only when the type is 代课."""
    first = specs["1.4"].steps[0]
    assert (first.id, first.kind, first.added) == ("substitute", "approve", True)
    assert [(a.party, a.answer) for a in first.assignees] == [("代课教师", "substitute")]
    assert first.needed({"form": {"type": "代课"}}) and not first.needed({"form": {"type": "调课"}})
    assert [(a.party, a.role) for a in first.tell_on_reject] == [("发起人", "系部主任")]
    with pytest.raises(ValueError, match="answer"):
        Assignee(party="代课教师")
