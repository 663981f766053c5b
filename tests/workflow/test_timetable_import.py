"""The 课表 import: every 周次 form, bad rows named and skipped, teachers matched, re-import reported.

Real files (csv in UTF-8 and GBK, xlsx written by openpyxl), a real database (SQLite, and
PostgreSQL when CAMPUSBOT_TEST_DATABASE_URL is set) and the real ``campusbot`` command.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import Workbook

from bot.cli import main
from handlers.timetable.report import report_text
from bot.db import Database
from bot.directory import import_rows, read_rows
from bot.render import Renderer
from bot.seed import DEMO_DIRECTORY, DEMO_TERM, DEMO_TIMETABLE, seed_demo
from bot.timetable_store import import_term, term_meetings
from handlers.timetable.sheet import TimetableFileError, read_file
from models import Person
from workflow.timetable import WeekSpecError, parse_periods, parse_weekday, parse_weeks
from workflow.timetable.terms import parse_term

HEADER = "工号,教师,课程,班级,星期,节次,周次,教室"


@pytest.mark.parametrize("text,weeks", [
    ("1-16周", set(range(1, 17))),
    ("1-15单周", set(range(1, 16, 2))),
    ("2-16双周", set(range(2, 17, 2))),
    ("1-8,10-16周", set(range(1, 9)) | set(range(10, 17))),
    ("1-8，10-16周", set(range(1, 9)) | set(range(10, 17))),
    ("1-8周,10-16周", set(range(1, 9)) | set(range(10, 17))),
    ("3周", {3}),
    ("５－８周", {5, 6, 7, 8}),
    ("1-16(单)", set(range(1, 17, 2))),
    ("1-4,9-12双周", {2, 4, 10, 12}),
])
def test_week_forms(text, weeks):
    assert parse_weeks(text) == weeks


@pytest.mark.parametrize("text,code", [
    ("", "bad_weeks"), ("周", "bad_weeks"), ("16-1周", "bad_weeks"), ("0-3周", "bad_weeks"),
    ("1-40周", "bad_weeks"), ("第一周", "bad_weeks"), ("3-3双周", "empty_weeks"),
])
def test_bad_week_forms(text, code):
    with pytest.raises(WeekSpecError) as exc:
        parse_weeks(text)
    assert exc.value.code == code


def test_weekday_and_periods():
    assert [parse_weekday(t) for t in ("1", "7", "周一", "周日", "星期三", "周天", "5.0")] == [1, 7, 1, 7, 3, 7, 5]
    for bad in ("0", "8", "周八", "Monday"):
        with pytest.raises(WeekSpecError):
            parse_weekday(bad)
    assert [parse_periods(t) for t in ("3-4", "3~4", "第5-6节", "9", "１－２")] == [(3, 4), (3, 4), (5, 6), (9, 9), (1, 2)]
    for bad in ("4-3", "0-1", "11-13", "三四", ""):
        with pytest.raises(WeekSpecError):
            parse_periods(bad)
    assert parse_term("2026-2027-1") == (2026, 1)
    assert parse_term("2026-2028-1") is None and parse_term("2026-1") is None


def _write(tmp_path: Path, name: str, lines: list[str], encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(("\n".join([HEADER] + lines) + "\n").encode(encoding))
    return path


def test_gbk_csv_and_xlsx_read_the_same(tmp_path):
    lines = ["sunlt,孙丽婷,机械制图,机电2401、机电2402,周二,3-4,\"1-8,10-16周\",A101"]
    gbk = read_file(_write(tmp_path, "gbk.csv", lines, "gbk"))
    wb = Workbook()
    ws = wb.active
    ws.append(HEADER.split(","))
    ws.append(["sunlt", "孙丽婷", "机械制图", "机电2401、机电2402", 2, "3-4", "1-8,10-16周", "A101"])
    wb.save(tmp_path / "t.xlsx")
    xlsx = read_file(tmp_path / "t.xlsx")
    assert gbk[1] == xlsx[1] == []
    assert gbk[0][0] == xlsx[0][0]
    m = gbk[0][0]
    assert m.classes == ("机电2401", "机电2402") and m.weekday == 2 and (m.first_period, m.last_period) == (3, 4)
    assert 9 not in m.weeks and len(m.weeks) == 15


def test_xls_reads_like_csv(tmp_path):
    """An old-format .xls (as many 教务系统 export) through python-calamine: numbers come back as typed."""
    xlwt = pytest.importorskip("xlwt", reason="xlwt (a test extra) writes the .xls fixture")
    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet("课表")
    rows = [HEADER.split(","), [1001, "孙丽婷", "机械制图", "机电2401,机电2402", 3, "1-2", "1-15单周", "A101"],
            ["", "马强", "数控编程", "数控2401", "周八", "3-4", "1-16周", "C101"]]
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            sheet.write(r, c, value)
    book.save(str(tmp_path / "t.xls"))
    meetings, problems = read_file(tmp_path / "t.xls")
    assert [(p.row, p.code) for p in problems] == [(3, "bad_weekday")]
    m = meetings[0]
    assert (m.staff_no, m.weekday, m.classes) == ("1001", 3, ("机电2401", "机电2402"))
    assert m.weeks == frozenset(range(1, 16, 2))


def test_refused_files(tmp_path):
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(TimetableFileError) as exc:
        read_file(tmp_path / "a.txt")
    assert exc.value.code == "bad_suffix"
    (tmp_path / "b.csv").write_text("工号,教师,课程\n1,2,3\n", encoding="utf-8")
    with pytest.raises(TimetableFileError) as exc:
        read_file(tmp_path / "b.csv")
    assert exc.value.code == "missing_columns" and "周次" in exc.value.values["missing"]


async def _directory(db: Database) -> None:
    async with db.session() as s:
        await import_rows(s, read_rows(DEMO_DIRECTORY))
        # a second 孙丽婷 in another 系部: a name alone must be narrowed by the class's 系部
        s.add(Person(userid="sunlt2", name="孙丽婷", department="经济管理系", roles_text="任课教师"))


async def test_bad_rows_named_good_rows_kept_and_reimport_reported(db_url, tmp_path):
    db = Database(db_url)
    await db.upgrade()
    try:
        await _directory(db)
        path = _write(tmp_path, "t.csv", [
            "sunlt,孙丽婷,机械制图,机电2401,1,1-2,1-16周,A101",          # 2 good (by 工号)
            ",孙丽婷,基础会计,会计2401,2,1-2,1-16周,C102",               # 3 good: narrowed to 经济管理系
            ",孙丽婷,机械制图,计网2401,2,3-4,1-16周,A101",               # 4 ambiguous: 信息工程系 has neither
            "x9,某人,课,机电2401,3,1-2,1-16周,A101",                     # 5 unknown 工号
            "sunlt,孙丽婷,机械制图,机电2401,8,1-2,1-16周,A101",          # 6 bad 星期
            "sunlt,孙丽婷,机械制图,机电2401,2,5-6,1-16周,",              # 7 empty 教室
            "maqiang,马强,数控编程,数控2401、机电2401,1,2-3,1-15单周,C101",  # 8 clash: 机电2401 in row 2
            "hezq,张三,液压,机电2402,4,1-2,1-16周,A102",                 # 9 工号 and name disagree
            "maqiang,马强,数控编程,数控2401,4,1-2,2-16双周,A101",        # 10 good
        ])
        meetings, problems = read_file(path)
        async with db.session() as s:
            report = await import_term(s, "2026-2027-1", meetings, problems)
        assert report.kept == 3 and not report.replaced
        reasons = {p.row: p.code for p in report.problems}
        assert reasons == {4: "ambiguous_teacher", 5: "unknown_staff_no", 6: "bad_weekday", 7: "empty_cells",
                           8: "clash", 9: "name_mismatch"}
        text = report_text(Renderer(), report)
        assert "第 4 行：教师 孙丽婷 有重名" in text and "第 8 行：与第 2 行冲突" in text and "班级 机电2401" in text
        async with db.session() as s:
            rows = await term_meetings(s, "2026-2027-1")
        assert {(r.teacher_userid, r.course) for r in rows} == {
            ("sunlt", "机械制图"), ("sunlt2", "基础会计"), ("maqiang", "数控编程")}

        again = _write(tmp_path, "t2.csv", [
            "sunlt,孙丽婷,机械制图,机电2401,1,1-2,1-16周,A105",   # room changed
            "maqiang,马强,数控编程,数控2401,4,1-2,2-16双周,A101",  # unchanged
            "hezq,何志强,液压与气动,机电2402,3,1-2,1-16周,A102",  # new
        ])
        async with db.session() as s:
            second = await import_term(s, "2026-2027-1", *read_file(again))
        assert second.replaced and second.kept == 3
        assert [a["course"] for a in second.added] == ["液压与气动"]
        assert [r["course"] for r in second.removed] == ["基础会计"]
        assert [(b["room"], a["room"]) for b, a in second.changed] == [("A101", "A105")]
        text = report_text(Renderer(), second)
        assert "新增 1 条，删除 1 条，变更 1 条" in text and "A105" in text
        async with db.session() as s:
            assert len(await term_meetings(s, "2026-2027-1")) == 3
            assert await term_meetings(s, "2026-2027-2") == []
    finally:
        await db.dispose()


async def test_demo_seeds_its_timetable(sqlite_url):
    db = Database(sqlite_url)
    await db.upgrade()
    try:
        async with db.session() as s:
            await seed_demo(s)
        async with db.session() as s:
            await seed_demo(s)  # a second start keeps the term as it is
            rows = await term_meetings(s, DEMO_TERM)
        assert len(rows) == len(DEMO_TIMETABLE.read_text(encoding="utf-8").strip().splitlines()) - 1
        assert any(len(r.classes) == 3 for r in rows)  # a 合班
        assert {r.teacher_userid for r in rows if r.course == "液压与气动"} == {"hezq"}  # matched by name
    finally:
        await db.dispose()


def test_cli_import_and_refusals(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CAMPUSBOT_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/cli.db")
    runner = CliRunner()
    assert runner.invoke(main, ["directory", "import", str(DEMO_DIRECTORY)]).exit_code == 0
    ok = runner.invoke(main, ["timetable", "import", str(DEMO_TIMETABLE), "--term", "2026-2027-1"])
    assert ok.exit_code == 0, ok.output
    assert "2026-2027-1 学期课表：导入 16 条。" in ok.output
    bad = _write(tmp_path, "bad.csv", ["sunlt,孙丽婷,机械制图,机电2401,1,1-2,一到十六周,A101"], "gbk")
    out = runner.invoke(main, ["timetable", "import", str(bad), "--term", "2026-2027-1"])
    assert out.exit_code == 1 and "第 2 行：周次“一到十六周”无法识别" in out.output
    assert "删除 16 条" in out.output
    wrong = runner.invoke(main, ["timetable", "import", str(bad), "--term", "2026-1"])
    assert wrong.exit_code == 2 and "学期“2026-1”写法不对" in wrong.output
    missing = runner.invoke(main, ["timetable", "import", "nope.xls", "--term", "2026-2027-1"])
    assert missing.exit_code == 1 and "找不到文件" in missing.output
