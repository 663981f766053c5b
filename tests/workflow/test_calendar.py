"""The 校历: loading, working days, teaching weeks and window resolution (real chinese-calendar)."""
from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml
from pydantic import TypeAdapter

from bot.cli_calendar import calendar_check_command, calendar_windows_command, windows_between
from workflow.calendar import DEFAULT_CALENDAR_FILE, CalendarError, SchoolCalendar
from workflow.calendar.school import cc_knows
from workflow.spec import Window, WorkflowSpec
from workflow.windows import ConcreteWindow

D = date.fromisoformat
YEAR_START, YEAR_END = D("2026-09-01"), D("2027-08-31")
_window = TypeAdapter(Window)


@pytest.fixture(scope="module")
def cal() -> SchoolCalendar:
    return SchoolCalendar.load(DEFAULT_CALENDAR_FILE)


def shipped() -> dict:
    return yaml.safe_load(DEFAULT_CALENDAR_FILE.read_text(encoding="utf-8"))


def write(tmp_path: Path, data: dict | str, name: str = "cal.yaml") -> Path:
    path = tmp_path / name
    text = data if isinstance(data, str) else yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path


def spans(cal: SchoolCalendar, window: dict, start: date = YEAR_START, end: date = YEAR_END) -> list[tuple[str, str]]:
    return [(w.start.isoformat(), w.end.isoformat()) for w in cal.resolve(_window.validate_python(window), start, end)]


def spec(code: str, name: str, *windows: dict) -> WorkflowSpec:
    return WorkflowSpec.model_validate({
        "code": code, "name": name, "category": "教学运行", "windows": list(windows),
        "steps": [{"id": "do", "title": "办理", "label": "办理", "owner": "教务处", "kind": "task", "assignees": [{"party": "教务处"}]}],
    })


# --- the shipped file ------------------------------------------------------------------


def test_shipped_calendar_loads_without_warnings(cal):
    assert cal.check() == []
    assert [(s.number, s.first_monday, s.weeks, s.exam_weeks) for s in cal.semesters] == [
        (1, D("2026-09-07"), 20, (19, 20)),
        (2, D("2027-03-01"), 18, (17, 18)),
    ]
    assert cal.span == (YEAR_START, YEAR_END)


@pytest.mark.parametrize("day, expected", [
    ("2026-10-01", False), ("2026-10-07", False),  # 国庆
    ("2026-09-25", False),  # 中秋
    ("2026-10-08", True),
    ("2026-09-19", False), ("2026-11-29", False),  # weekends
    ("2026-09-20", True),  # 调休 Sunday
    ("2026-10-10", True),  # 调休 Saturday
    ("2026-11-24", True),
])
def test_workdays_2026(cal, day, expected):
    assert cal.is_workday(D(day)) is expected


@pytest.mark.parametrize("day, expected", [
    ("2027-01-01", False),  # 元旦 (Friday)
    ("2027-02-08", False), ("2027-02-12", False),  # 春节, weekdays
    ("2027-01-31", True), ("2027-02-20", True),  # 春节调休 Sunday / Saturday
    ("2027-04-05", False),  # 清明 (Monday)
    ("2027-05-04", False), ("2027-05-08", True),  # 劳动节 / its make-up Saturday
    ("2027-06-09", False), ("2027-06-10", True),  # 端午 (Wednesday) / the day after
    ("2027-03-06", False), ("2027-03-08", True),  # plain weekend / weekday
])
def test_workdays_2027_come_from_the_file(cal, day, expected):
    assert cal.is_workday(D(day)) is expected


def test_2027_holidays_are_the_schools_own(cal, tmp_path):
    if cc_knows(2027):
        pytest.skip("chinese-calendar now knows 2027")
    data = shipped()
    data["holidays"] = [h for h in data["holidays"] if not str(h["start"]).startswith("2027")]
    data["workdays"] = [w for w in data["workdays"] if not str(w["date"]).startswith("2027")]
    bare = SchoolCalendar.load(write(tmp_path, data))
    # Without the file's entries 2027 falls back to Monday–Friday ...
    assert bare.is_workday(D("2027-02-08")) is True
    assert bare.is_workday(D("2027-02-20")) is False
    assert any("2027 年的节假日" in w for w in bare.check())
    # ... with them, the school's dates win.
    assert cal.is_workday(D("2027-02-08")) is False
    assert cal.is_workday(D("2027-02-20")) is True
    assert cal.holidays[D("2027-02-08")] == "春节"


def test_unknown_year_falls_back_to_monday_to_friday(cal):
    assert cal.is_workday(D("2031-01-01")) is True  # a Wednesday nobody has data for
    assert cal.is_workday(D("2031-01-04")) is False


def test_add_and_count_back_workdays(cal):
    assert cal.add_workdays(D("2026-09-30"), 1) == D("2026-10-08")  # over 国庆
    assert cal.add_workdays(D("2026-10-09"), 1) == D("2026-10-10")  # make-up Saturday
    assert cal.add_workdays(D("2026-10-08"), -1) == D("2026-09-30")
    assert cal.add_workdays(D("2026-10-03"), 0) == D("2026-10-03")
    assert cal.workdays_before(D("2026-10-12"), 1) == D("2026-10-10")
    assert cal.workdays_before(D("2026-10-08"), 3) == D("2026-09-28")
    assert cal.workdays_before(D("2026-10-03"), 0) == D("2026-09-30")  # a holiday: the working day before
    assert cal.workdays_before(D("2026-11-24"), 0) == D("2026-11-24")


@pytest.mark.parametrize("day, expected", [
    ("2026-09-06", None),
    ("2026-09-07", (1, 1)), ("2026-09-13", (1, 1)), ("2026-09-14", (1, 2)),
    ("2026-11-24", (1, 12)), ("2027-01-24", (1, 20)),
    ("2027-01-25", None), ("2027-02-28", None),
    ("2027-03-01", (2, 1)), ("2027-07-04", (2, 18)), ("2027-07-05", None),
])
def test_teaching_week(cal, day, expected):
    assert cal.teaching_week(D(day)) == expected


def test_week_start(cal):
    assert cal.week_start(1, 1) == D("2026-09-07")
    assert cal.week_start(1, 20) == D("2027-01-18")
    assert cal.week_start(2, 18) == D("2027-06-28")
    with pytest.raises(ValueError, match="只有 20 周"):
        cal.week_start(1, 21)


# --- window kinds ----------------------------------------------------------------------


def test_fixed_ranges(cal):
    window = {"kind": "fixed", "ranges": [
        {"label": "新生学籍注册", "start": "10-08", "end": "10-25"},
        {"label": "毕业生学历注册", "start": "06-20", "end": "06-28"},
    ]}
    got = cal.resolve(_window.validate_python(window), YEAR_START, YEAR_END)
    assert got == [
        ConcreteWindow("新生学籍注册", D("2026-10-08"), D("2026-10-25"), D("2026-09-28")),  # 3 working days before, over 国庆
        ConcreteWindow("毕业生学历注册", D("2027-06-20"), D("2027-06-28"), D("2027-06-16")),
    ]


def test_fixed_range_across_new_year_and_leap_day(cal):
    assert spans(cal, {"kind": "fixed", "ranges": [{"start": "12-20", "end": "01-10"}]},
                 D("2027-01-01"), D("2027-01-31")) == [("2026-12-20", "2027-01-10")]
    assert spans(cal, {"kind": "fixed", "ranges": [{"start": "02-29", "end": "03-05"}]}) == [
        ("2027-02-28", "2027-03-05")]


def test_teaching_weeks(cal):
    assert spans(cal, {"kind": "teaching_weeks", "weeks": [15, 16]}) == [
        ("2026-12-14", "2026-12-27"), ("2027-06-07", "2027-06-20")]
    assert spans(cal, {"kind": "teaching_weeks", "weeks": [3, 3], "semesters": [1]}) == [
        ("2026-09-21", "2026-09-27")]
    # Weeks beyond a short semester are clipped, or dropped when none is left.
    assert spans(cal, {"kind": "teaching_weeks", "weeks": [17, 20], "semesters": [2]}) == [
        ("2027-06-21", "2027-07-04")]
    assert spans(cal, {"kind": "teaching_weeks", "weeks": [19, 20], "semesters": [2]}) == []


def test_teaching_weeks_from_end(cal):
    assert spans(cal, {"kind": "teaching_weeks", "weeks": [1, 2], "from_end": True}) == [
        ("2027-01-11", "2027-01-24"), ("2027-06-21", "2027-07-04")]
    window = _window.validate_python({"kind": "teaching_weeks", "weeks": [1, 1], "from_end": True, "semesters": [1]})
    assert [w.label for w in cal.resolve(window, YEAR_START, YEAR_END)] == ["第一学期第20周"]


def test_every_n_weeks(cal):
    assert spans(cal, {"kind": "every_n_weeks", "every": 4}) == [
        ("2026-09-07", "2026-09-11"), ("2026-10-05", "2026-10-09"), ("2026-11-02", "2026-11-06"),
        ("2026-11-30", "2026-12-04"), ("2026-12-28", "2027-01-01"),
        ("2027-03-01", "2027-03-05"), ("2027-03-29", "2027-04-02"), ("2027-04-26", "2027-04-30"),
        ("2027-05-24", "2027-05-28"), ("2027-06-21", "2027-06-25"),
    ]
    window = _window.validate_python({"kind": "every_n_weeks", "every": 4, "semesters": [1], "lead_days": 3})
    oct_run = cal.resolve(window, D("2026-10-01"), D("2026-10-31"))
    assert oct_run == [ConcreteWindow("第一学期第5周", D("2026-10-05"), D("2026-10-09"), D("2026-09-28"))]


def test_monthly_every_teaching_month(cal):
    got = spans(cal, {"kind": "monthly", "day_from": 1, "day_to": 31})
    assert got == [
        ("2026-09-01", "2026-09-30"), ("2026-10-01", "2026-10-31"), ("2026-11-01", "2026-11-30"),
        ("2026-12-01", "2026-12-31"), ("2027-01-01", "2027-01-31"),
        ("2027-03-01", "2027-03-31"), ("2027-04-01", "2027-04-30"), ("2027-05-01", "2027-05-31"),
        ("2027-06-01", "2027-06-30"), ("2027-07-01", "2027-07-31"),
    ]  # no 2027-02 (寒假) and no 2027-08 (暑假)


def test_monthly_listed_months_clip_and_wrap(cal):
    assert spans(cal, {"kind": "monthly", "day_from": 25, "day_to": 31, "months": [2]}) == [
        ("2027-02-25", "2027-02-28")]
    assert spans(cal, {"kind": "monthly", "day_from": 25, "day_to": 5, "months": [12]}) == [
        ("2026-12-25", "2027-01-05")]
    assert spans(cal, {"kind": "monthly", "day_from": 10, "day_to": 15, "months": [3, 12]}) == [
        ("2026-12-10", "2026-12-15"), ("2027-03-10", "2027-03-15")]


def test_months(cal):
    assert spans(cal, {"kind": "months", "from_month": 3, "to_month": 6}) == [("2027-03-01", "2027-06-30")]
    assert spans(cal, {"kind": "months", "from_month": 9, "to_month": 5}) == [("2026-09-01", "2027-05-31")]
    window = _window.validate_python({"kind": "months", "from_month": 3, "to_month": 6})
    assert [w.label for w in cal.resolve(window, YEAR_START, YEAR_END)] == ["2027年3-6月"]


def test_months_every_three_years(cal):
    far = D("2032-12-31")
    # Anchored on the school year's start year (2026) when first_year is None.
    assert spans(cal, {"kind": "months", "from_month": 9, "to_month": 12, "every_years": 3}, YEAR_START, far) == [
        ("2026-09-01", "2026-12-31"), ("2029-09-01", "2029-12-31"), ("2032-09-01", "2032-12-31")]
    assert spans(cal, {"kind": "months", "from_month": 5, "to_month": 5, "every_years": 3, "first_year": 2024},
                 YEAR_START, far) == [("2027-05-01", "2027-05-31"), ("2030-05-01", "2030-05-31")]
    assert spans(cal, {"kind": "months", "from_month": 3, "to_month": 6, "every_years": 3}) == []


def test_seasons_are_the_first_twelve_weeks(cal):
    assert spans(cal, {"kind": "seasons", "seasons": ["春季"]}) == [("2027-03-01", "2027-05-23")]
    assert spans(cal, {"kind": "seasons", "seasons": ["春季", "秋季"]}) == [
        ("2026-09-07", "2026-11-29"), ("2027-03-01", "2027-05-23")]


def test_semester_phase(cal):
    assert spans(cal, {"kind": "semester_phase", "phase": "开学"}) == [
        ("2026-09-07", "2026-09-20"), ("2027-03-01", "2027-03-14")]
    assert spans(cal, {"kind": "semester_phase", "phase": "期末", "weeks": 2, "semesters": [1]}) == [
        ("2027-01-11", "2027-01-24")]
    window = _window.validate_python({"kind": "semester_phase", "phase": "开学", "weeks": 1, "semesters": [2]})
    assert [w.label for w in cal.resolve(window, YEAR_START, YEAR_END)] == ["第二学期开学"]


def test_on_demand_resolves_to_nothing(cal):
    assert spans(cal, {"kind": "on_demand"}) == []


def test_overlap_not_clip(cal):
    # A window that began before the range is returned whole.
    assert spans(cal, {"kind": "fixed", "ranges": [{"start": "10-08", "end": "10-25"}]},
                 D("2026-10-20"), D("2026-10-20")) == [("2026-10-08", "2026-10-25")]
    with pytest.raises(ValueError):
        cal.resolve(_window.validate_python({"kind": "on_demand"}), D("2026-10-20"), D("2026-10-01"))


def test_remind_day_is_a_working_day_before_a_holiday_start(cal):
    window = _window.validate_python({"kind": "fixed", "ranges": [{"start": "10-03", "end": "10-09"}], "lead_days": 0})
    [w] = cal.resolve(window, YEAR_START, YEAR_END)
    assert w.opens_remind_on == D("2026-09-30")


# --- windows_between and the CLI helpers -----------------------------------------------


def sample_specs() -> dict[str, WorkflowSpec]:
    specs = [
        spec("1.10", "教研室", {"kind": "semester_phase", "phase": "开学", "semesters": [1], "label": "开学检查"}),
        spec("1.9", "三大注册", {"kind": "fixed", "ranges": [{"label": "在校生学年注册", "start": "09-01", "end": "09-25"}]},
             {"kind": "teaching_weeks", "weeks": [3, 3], "semesters": [1]}),
        spec("1.4", "调停课", {"kind": "on_demand"}),
    ]
    return {s.code: s for s in specs}


def test_windows_between_shape_and_order(cal):
    rows = windows_between(sample_specs(), cal, D("2026-09-01"), D("2026-09-30"))
    assert rows == [
        {"code": "1.9", "name": "三大注册", "label": "在校生学年注册", "start": "2026-09-01", "end": "2026-09-25"},
        {"code": "1.10", "name": "教研室", "label": "开学检查", "start": "2026-09-07", "end": "2026-09-20"},
        {"code": "1.9", "name": "三大注册", "label": "第一学期第3周", "start": "2026-09-21", "end": "2026-09-27"},
    ]
    assert json.loads(json.dumps(rows, ensure_ascii=False)) == rows
    assert all(set(r) == {"code", "name", "label", "start", "end"} for r in rows)
    assert not any(r["code"] == "1.4" for r in rows)


def test_windows_between_sorts_codes_numerically_on_the_same_day(cal):
    specs = [spec(code, code, {"kind": "fixed", "ranges": [{"start": "11-02", "end": "11-06"}]})
             for code in ("1.10", "1.9", "2.1")]
    rows = windows_between(specs, cal, D("2026-11-01"), D("2026-11-30"))
    assert [r["code"] for r in rows] == ["1.9", "1.10", "2.1"]


def test_calendar_windows_command_json(capsys):
    code = calendar_windows_command("2026-09-01", "2026-09-30", True, DEFAULT_CALENDAR_FILE, specs=sample_specs())
    assert code == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["code"], r["start"], r["end"]) for r in rows] == [
        ("1.9", "2026-09-01", "2026-09-25"), ("1.10", "2026-09-07", "2026-09-20"), ("1.9", "2026-09-21", "2026-09-27")]


def test_calendar_windows_command_text_and_bad_input(capsys):
    assert calendar_windows_command(D("2026-09-01"), D("2026-09-10"), False, DEFAULT_CALENDAR_FILE,
                                    specs=sample_specs()) == 0
    out = capsys.readouterr().out
    assert "2026-09-01 ~ 2026-09-25  1.9   三大注册  在校生学年注册" in out
    assert calendar_windows_command("2026-09-10", "2026-09-01", False, DEFAULT_CALENDAR_FILE, specs=sample_specs()) == 1
    assert calendar_windows_command("9月1日", None, False, DEFAULT_CALENDAR_FILE, specs=sample_specs()) == 1
    assert "YYYY-MM-DD" in capsys.readouterr().err


def test_calendar_check_command(capsys, tmp_path):
    assert calendar_check_command(DEFAULT_CALENDAR_FILE) == 0
    out = capsys.readouterr().out
    assert "2026-2027学年第一学期: 2026-09-07 至 2027-01-24，共 20 周" in out
    assert "校历有效" in out
    data = shipped()
    data["semesters"][0]["weeks"] = 0
    assert calendar_check_command(write(tmp_path, data)) == 1
    assert "semesters[0].weeks" in capsys.readouterr().err


def test_calendar_check_command_default_path(capsys, monkeypatch):
    monkeypatch.delenv("CAMPUSBOT_CALENDAR_FILE", raising=False)
    assert calendar_check_command(None) == 0
    assert "2026-2027学年" in capsys.readouterr().out


def test_every_shipped_spec_window_resolves_in_2026_2027(cal):
    from workflow.registry import default_specs

    specs = default_specs()
    assert specs
    for s in specs.values():
        for window in s.windows:
            if window.kind == "on_demand":
                continue
            # A multi-year cycle need only run once within the cycle starting this school year.
            years = getattr(window, "every_years", 1)
            end = YEAR_END if years == 1 else date(YEAR_START.year + years, 8, 31)
            assert cal.resolve(window, YEAR_START, end), f"{s.code} {s.name}: {window!r} 在 2026-2027 学年没有日期"


# --- validation ------------------------------------------------------------------------


def _error(tmp_path: Path, data: dict | str) -> str:
    with pytest.raises(CalendarError) as exc:
        SchoolCalendar.load(write(tmp_path, data))
    for line in exc.value.problems:
        assert "\n" not in line and line.startswith("cal.yaml: ")
    return str(exc.value)


def test_not_a_monday(tmp_path):
    data = shipped()
    data["semesters"][1]["first_monday"] = "2027-03-02"
    msg = _error(tmp_path, data)
    assert "semesters[1].first_monday" in msg and "星期一" in msg and "星期二" in msg


@pytest.mark.parametrize("mutate, field, words", [
    (lambda d: d.pop("semesters"), "semesters", "缺少此字段"),
    (lambda d: d.update(semesters=[]), "semesters", "至少要有一项"),
    (lambda d: d.update(academic_year="2026-2028"), "academic_year", "相邻两年"),
    (lambda d: d.update(term="秋"), "term", "未知字段"),
    (lambda d: d["semesters"][0].update(first_monday="2026-9-7"), "semesters[0].first_monday", "YYYY-MM-DD"),
    (lambda d: d["semesters"][0].update(weeks="二十"), "semesters[0].weeks", "整数"),
    (lambda d: d["semesters"][0].update(weeks=40), "semesters[0].weeks", "不大于 30"),
    (lambda d: d["semesters"][1].update(number=1), "semesters[1].number", "重复"),
    (lambda d: d["semesters"][1].update(number=3), "semesters[1].number", "应为"),
    (lambda d: d["semesters"][0].update(exam_weeks=[21]), "semesters[0].exam_weeks", "第 21 周"),
    (lambda d: d["semesters"][0].update(first_monday="2025-09-01"), "semesters[0].first_monday", "不在学年"),
    (lambda d: d["holidays"][1].update(end="2026-09-30"), "holidays[1].end", "早于"),
    (lambda d: d["holidays"][0].update(source="state"), "holidays[0].source", "national"),
    (lambda d: d["workdays"][0].update(date="2026-10-03"), "workdays[0].date", "国庆节"),
    (lambda d: d["vacations"][0].pop("name"), "vacations[0].name", "缺少此字段"),
])
def test_broken_field_is_named(tmp_path, mutate, field, words):
    data = shipped()
    mutate(data)
    msg = _error(tmp_path, data)
    assert f": {field}: " in msg and words in msg, msg


def test_impossible_date_is_named(tmp_path):
    text = DEFAULT_CALENDAR_FILE.read_text(encoding="utf-8").replace("start: 2027-02-05", "start: 2027-02-30")
    msg = _error(tmp_path, text)
    assert "holidays[3].start" in msg and "2027-02-30" in msg


def test_bare_no_key_gets_a_hint(tmp_path):
    text = DEFAULT_CALENDAR_FILE.read_text(encoding="utf-8").replace("  - number: 1", "  - no: 1")
    msg = _error(tmp_path, text)
    assert "semesters[0].number" in msg and "number" in msg and "no/yes" in msg


def test_yaml_and_shape_errors(tmp_path):
    assert "YAML" in _error(tmp_path, "academic_year: [2026\n")
    assert "映射" in _error(tmp_path, "- 2026\n")
    with pytest.raises(CalendarError, match="文件不存在"):
        SchoolCalendar.load(tmp_path / "missing.yaml")


# --- warnings and several years ---------------------------------------------------------


def test_check_warns_about_overlaps_and_missing_holiday_years(tmp_path):
    data = {
        "academic_year": "2030-2031",
        "semesters": [
            {"number": 1, "first_monday": "2030-09-02", "weeks": 26},
            {"number": 2, "first_monday": "2031-02-24", "weeks": 30},
        ],
        "vacations": [{"name": "寒假", "start": "2031-01-13", "end": "2031-02-16"}],
        "workdays": [{"date": "2030-09-04", "name": "误填"}],
    }
    warnings = SchoolCalendar.load(write(tmp_path, data)).check()
    text = "\n".join(warnings)
    assert "重叠" in text and "从第 26 周起" in text  # semester 1 runs into semester 2
    assert "超出学年结束日" in text  # 30 weeks from 2031-02-24 run to 09-21
    assert "寒假" in text
    assert "2030 年的节假日" in text and "2031 年的节假日" in text
    assert "2030-09-04 是星期三" in text


def test_load_dir_merges_years(tmp_path):
    write(tmp_path, shipped(), "2026-2027.yaml")
    write(tmp_path, {
        "academic_year": "2027-2028",
        "semesters": [{"number": 1, "first_monday": "2027-09-06", "weeks": 20}],
        "holidays": [{"name": "国庆节", "start": "2027-10-01", "end": "2027-10-07"}],
    }, "2027-2028.yaml")
    cal = SchoolCalendar.load(tmp_path)
    assert cal.span == (D("2026-09-01"), D("2028-08-31"))
    assert cal.teaching_week(D("2027-09-13")) == (1, 2)
    assert cal.week_start(1, 1, year=2027) == D("2027-09-06")
    with pytest.raises(ValueError, match="year"):
        cal.week_start(1, 1)
    assert not cal.is_workday(D("2027-10-04"))
    assert spans(cal, {"kind": "semester_phase", "phase": "开学", "semesters": [1]}, YEAR_START, D("2028-08-31")) == [
        ("2026-09-07", "2026-09-20"), ("2027-09-06", "2027-09-19")]
    assert [w for w in cal.check() if "2028" in w]  # no holiday data for 2028

    write(tmp_path, shipped(), "copy.yaml")
    with pytest.raises(CalendarError, match="copy.yaml: academic_year: 学年 2026-2027 与另一个文件重复"):
        SchoolCalendar.load_dir(tmp_path)
