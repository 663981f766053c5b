"""The campusbot command as an operator runs it: settings errors, directory import,
workflow and calendar listings."""
from __future__ import annotations

import json
import time
import os
import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import Workbook

from tests.support.processes import Server, _free_port, _serve_env, run

ROOT = Path(__file__).resolve().parents[2]


def test_serve_without_wecom_settings_names_the_missing_one(tmp_path):
    r = run(["serve"], tmp_path)
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0
    assert "CAMPUSBOT_WECOM_CORP_ID" in r.stderr


@pytest.mark.parametrize("name,value", [("CAMPUSBOT_PORT", "abc"), ("CAMPUSBOT_WECOM_AES_KEY", "short"),
                                        ("CAMPUSBOT_WECOM_MAX_SKEW", "-1")])
def test_invalid_setting_is_one_line_exit_2(tmp_path, name, value):
    r = run(["db", "upgrade"], tmp_path, **{name: value})
    assert r.returncode == 2, r.stderr
    assert name in r.stderr and r.stderr.strip().count("\n") == 0


def test_directory_import_csv_reports_rows(tmp_path):
    f = tmp_path / "people.csv"
    f.write_text(
        "userid,name,department,roles,classes\n"
        "t1,张三,机电工程系,任课教师,\n"
        "t2,李四,机电工程系,辅导员,机电2401;机电2402\n"
        ",无名,机电工程系,任课教师,\n"
        "t3,王五,机电工程系,校长,\n"
        "t1,张三三,机电工程系,任课教师,\n", encoding="utf-8")
    r = run(["directory", "import", str(f)], tmp_path)
    assert "新增 2 人，更新 0 人，拒绝 3 行" in r.stdout
    assert "第 4 行：userid 为空" in r.stdout
    assert "第 5 行：未知角色：校长" in r.stdout
    assert "第 6 行：userid t1 与第 2 行重复" in r.stdout
    r2 = run(["directory", "import", str(f)], tmp_path)
    assert "新增 0 人，更新 2 人" in r2.stdout


def test_directory_import_xlsx_and_bad_files(tmp_path):
    wb = Workbook()
    ws = wb.active
    ws.append(["userid", "name", "department", "roles", "classes"])
    ws.append(["x1", "赵六", "信息工程系", "教学秘书", None])
    wb.save(tmp_path / "people.xlsx")
    r = run(["directory", "import", str(tmp_path / "people.xlsx")], tmp_path)
    assert "新增 1 人" in r.stdout and r.returncode == 0
    (tmp_path / "bad.csv").write_text("id,name\n1,x\n", encoding="utf-8")
    r = run(["directory", "import", str(tmp_path / "bad.csv")], tmp_path)
    assert r.returncode == 1 and "缺少列" in r.stderr
    (tmp_path / "x.txt").write_text("hello", encoding="utf-8")
    r = run(["directory", "import", str(tmp_path / "x.txt")], tmp_path)
    assert r.returncode == 1 and ".csv" in r.stderr


def test_workflows_list_json(tmp_path):
    r = run(["workflows", "list", "--json"], tmp_path)
    data = json.loads(r.stdout)
    assert len(data) == 45
    assert [d["code"] for d in data][:4] == ["1.1", "1.2", "1.3", "1.4"]
    first = data[0]
    assert set(first) == {"code", "name", "category", "steps"}
    assert set(first["steps"][0]) == {"title", "owner", "kind"}
    branched = next(d for d in data if d["code"] == "1.7")
    assert {s["name"] for s in branched["steps"]} == {"开学补考及毕业大补考", "期末考试"}


def test_calendar_windows_json_for_the_year(tmp_path):
    r = run(["calendar", "windows", "--from", "2026-09-01", "--to", "2027-08-31", "--json"], tmp_path)
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    codes = {d["code"] for d in data}
    from workflow.registry import default_specs

    scheduled = {c for c, s in default_specs().items() if any(w.kind != "on_demand" for w in s.windows)}
    assert scheduled <= codes
    assert all(set(d) >= {"code", "name", "start", "end"} for d in data)
    assert {"code": "1.1", "start": "2026-09-01", "end": "2026-09-25"}.items() <= \
        next(d for d in data if d["code"] == "1.1" and d["start"] == "2026-09-01").items()


def test_calendar_check_ok_and_bad(tmp_path):
    assert run(["calendar", "check"], tmp_path).returncode == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text("academic_year: 2026-2027\nsemesters: nope\n", encoding="utf-8")
    r = run(["calendar", "check", str(bad)], tmp_path)
    assert r.returncode == 1 and "semesters" in (r.stdout + r.stderr)


def test_db_upgrade(tmp_path):
    r = run(["db", "upgrade"], tmp_path)
    assert r.returncode == 0 and "最新" in r.stdout
    assert (tmp_path / "cli.db").exists()


def test_serve_requires_its_own_secret_key(tmp_path):
    env = _serve_env(tmp_path, _free_port())
    del env["CAMPUSBOT_SECRET_KEY"]
    r = subprocess.run([sys.executable, "-m", "bot.cli", "serve"], cwd=tmp_path, env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "CAMPUSBOT_SECRET_KEY" in r.stderr
    env["CAMPUSBOT_SECRET_KEY"] = "short"
    r = subprocess.run([sys.executable, "-m", "bot.cli", "serve"], cwd=tmp_path, env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 2 and "CAMPUSBOT_SECRET_KEY" in r.stderr


def test_serve_answers_wecom_url_verification_and_logs_no_query_strings(tmp_path):
    """`campusbot serve` as production starts it: migrations, then the callback answers the official vector.
    Its access log names each path but never a query string (links carry sig=, callbacks msg_signature=)."""
    import urllib.request
    from urllib.parse import urlencode

    from tests.support.wecom_helpers import VERIFY_URL, VERIFY_URL_PLAIN

    port = _free_port()
    with Server(["serve"], tmp_path, _serve_env(tmp_path, port), port) as server:
        body = urllib.request.urlopen(server.base + "/wecom/callback?" + urlencode(VERIFY_URL), timeout=5).read()
        assert body.decode() == VERIFY_URL_PLAIN
        assert (tmp_path / "serve.db").exists()
        assert server.get("/upload/7?u=zhoujs&exp=99999999999&sig=SIGNATURE0123456789abcdef") == 403
        assert server.get("/record/3?u=zhoujs&exp=1&sig=RECORDSIG0123456789", **{"User-Agent": "wxwork/4.1"}) == 403
        time.sleep(0.3)
    log = server.log()
    assert "/upload/7" in log and "/record/3" in log and "/wecom/callback" in log, log
    for secret in ("SIGNATURE0123456789abcdef", "RECORDSIG0123456789", VERIFY_URL["msg_signature"],
                   VERIFY_URL["echostr"][:20], "zhoujs", "?"):
        assert secret not in log, (secret, log)


def test_demo_refuses_a_database_that_is_not_its_own(tmp_path):
    r = run(["demo"], tmp_path, CAMPUSBOT_DATABASE_URL="postgresql+asyncpg://campusbot@db.example/prod")
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0
    assert "CAMPUSBOT_DATABASE_URL" in r.stderr and "--database" in r.stderr
    assert not (tmp_path / "data").exists()  # refused before touching anything


def test_demo_on_an_explicit_database_keeps_its_key_across_restarts(tmp_path):
    """``--database`` is the deliberate way; the demo's random signing key stays in its data folder."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMPUSBOT_")}
    env.update({"CAMPUSBOT_DATABASE_URL": "postgresql+asyncpg://campusbot@db.example/prod",
                "CAMPUSBOT_PORT": str(port)})
    args = ["demo", "--database", f"sqlite+aiosqlite:///{tmp_path}/mine.db"]
    with Server(args, tmp_path, env, port) as server:
        assert server.get("/") == 200
    key_file = tmp_path / "data" / "demo_secret_key"
    key = key_file.read_text()
    assert len(key.strip()) >= 32 and (tmp_path / "mine.db").exists()
    assert key_file.stat().st_mode & 0o077 == 0
    with Server(args, tmp_path, env, port):
        pass
    assert key_file.read_text() == key
