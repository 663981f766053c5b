"""Benchmark: console page loads with a term's data (45 runs, 3,000 tasks, 500 people, 2,000 files).

Rows are written straight into the database (a term's worth, spread over steps and 系部), then the
总览, a run page, the 调停课汇总 and the audit log are fetched over real HTTP, logged in with the demo's
picker. Target (issue 13): each page under 300 ms. Targets live here and in the README, never in tests.

    .venv/bin/python -m bench.console_pages [--rounds 10] [--db URL]
"""
from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGET_MS = 300.0
DEPTS = ("机电工程系", "信息工程系", "经济管理系", "通识教育部")


async def seed_term(core, runs: int = 45, tasks: int = 3000, people: int = 500, files: int = 2000) -> int:
    from bot.seed import seed_demo
    from models import Person, Run, StoredFile, Task

    async with core.db.session() as s:
        await seed_demo(s)
    async with core.db.session() as s:
        s.add_all(Person(userid=f"t{i:04d}", name=f"教师{i:04d}", department=DEPTS[i % 4], roles_text="任课教师")
                  for i in range(people - 23))
    codes = [c for c, spec in core.specs.items() if not spec.start_form][:runs]
    now = core.clock()
    async with core.db.session() as s:
        made = []
        for i in range(runs):
            spec = core.specs[codes[i % len(codes)]]
            steps = spec.all_flows()[0].steps
            run = Run(code=spec.code, flow_id=spec.all_flows()[0].id, title=spec.name, started_by="wangjw",
                      owner_userid="wangjw", departments=list(DEPTS), step_index=min(1, len(steps) - 1),
                      created_at=now, record_no=f"{spec.code}-2026-{i + 1:04d}")
            s.add(run)
            made.append((run, steps))
        await s.flush()
        per_run = tasks // runs
        for run, steps in made:
            for j in range(per_run):
                step_index = j % min(len(steps), 2)
                s.add(Task(run_id=run.id, step_index=step_index, step_id=steps[step_index].id, kind=steps[step_index].kind,
                           group=DEPTS[j % 4], department=DEPTS[j % 4], assignee=f"t{j % (people - 23):04d}",
                           status="done" if j % 3 == 0 else "open", due_at=now if j % 7 == 0 else None,
                           created_at=now))
        for k in range(files):
            run, steps = made[k % runs]
            path = core.settings.data_dir / "files" / f"f{k}.pdf"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"%PDF-1.4 bench")
            s.add(StoredFile(run_id=run.id, step_id=steps[0].id, userid=f"t{k % 400:04d}", department=DEPTS[k % 4],
                             filename=f"材料{k}.pdf", path=str(path), size=14, content_type="application/pdf",
                             created_at=now))
        return made[0][0].id


async def main(rounds: int, db_url: str | None) -> dict:
    from aiohttp.test_utils import TestClient, TestServer

    from bot.app import CORE, create_app
    from bot.config import Settings

    tmp = Path(tempfile.mkdtemp(prefix="campusbot-console-bench-"))
    settings = Settings(database_url=db_url or f"sqlite+aiosqlite:///{tmp}/bench.db", data_dir=tmp)
    app = create_app(settings, "demo", start_workers=False)
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        run_id = await seed_term(app[CORE])
        page = await client.get("/console/login")
        token = re.search(r'name="csrf" value="([0-9a-f]+)"', await page.text()).group(1)
        assert (await client.post("/console/login", data={"userid": "wangjw", "csrf": token})).status == 200
        out = {}
        for name, path in (("overview", "/console"), ("run", f"/console/runs/{run_id}"),
                           ("adjust", "/console/adjust"), ("audit", "/console/audit"), ("board", "/console/runs"),
                           ("people", "/console/people"), ("notices", "/console/notices"),
                           ("calendar", "/console/calendar")):
            times = []
            for _ in range(rounds):
                t0 = time.perf_counter()
                resp = await client.get(path)
                await resp.read()
                times.append((time.perf_counter() - t0) * 1000)
                assert resp.status == 200, (path, resp.status)
            out[name] = {"median_ms": round(statistics.median(times), 1), "worst_ms": round(max(times), 1)}
        return out
    finally:
        await client.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--db", default=None)
    args = parser.parse_args()
    result = asyncio.run(main(args.rounds, args.db))
    for name, figures in result.items():
        verdict = "ok" if figures["median_ms"] <= TARGET_MS else "OVER"
        print(f"{name:9s} median {figures['median_ms']:7.1f} ms  worst {figures['worst_ms']:7.1f} ms  ({verdict}, "
              f"target {TARGET_MS:.0f} ms)")
