"""The ``campusbot`` command."""
from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import os
import signal
import sys
from pathlib import Path

import click
from aiohttp import ClientError, ClientSession, ClientTimeout, web
from sqlalchemy.exc import DBAPIError

from bot import directory as d
from bot.app import CORE, access_log_options, create_app
from bot.cli_calendar import calendar_check_command, calendar_windows_command
from bot.cli_timetable import timetable_import_command
from bot.config import ConfigError, Settings, load_settings
from bot.db import Database, upgrade_sync
from bot.department_map import MappingFileError, read_mapping
from bot.directory_sync import SyncReport, sync_directory
from bot.platforms import dingtalk, wecom
from bot.platforms.base import PermanentSendError, TransientSendError
from bot.platforms.dingtalk.client import DingTalkAPIError, DingTalkTransientError
from bot.reminders.working_time import calendar_for
from bot.seed import seed_demo
from bot.workers import NUDGE_FD, listen_for_nudges
from workflow.authoring.catalog import workflows_json, workflows_table
from workflow.authoring.importer import import_handbook
from workflow.calendar import CalendarError
from workflow.registry import SpecError, default_specs


def _settings(**overrides) -> Settings:
    try:
        return load_settings(**overrides)
    except ConfigError as exc:
        click.echo(f"配置错误: {exc}", err=True)
        sys.exit(2)


def _check_specs() -> None:
    try:
        default_specs()
    except SpecError as exc:
        click.echo("工作流定义有误：\n" + str(exc), err=True)
        sys.exit(2)


def _check_calendar(settings: Settings) -> None:
    """Refuse to start on an invalid 校历; warn when it (or chinese-calendar) does not cover today."""
    try:
        cal = calendar_for(settings)
    except CalendarError as exc:
        click.echo("校历无效：\n" + "\n".join(exc.problems), err=True)
        sys.exit(2)
    for warning in cal.check():
        click.echo(f"校历提醒：{warning}", err=True)
    first, last = cal.span
    today = dt.date.today()
    if not first <= today <= last:
        click.echo(f"校历提醒：校历覆盖 {first} 至 {last}，不含今天 {today}，提醒将按周一至周五发送，"
                   "请用 CAMPUSBOT_CALENDAR_FILE 指定本学年的校历。", err=True)


# How long the event loop's thread may hold the GIL while the database driver's thread waits for it
# (Python's default is 5 ms). Every aiosqlite statement runs on its own thread and hands its result
# back: under load each hand-off waited up to the whole interval, and a batch's statements run one
# after another. At 0.5 ms, 3,000 确认收到 taps were processed about 1.8× faster (bench.ack, two pairs).
SWITCH_INTERVAL = 0.0005


def quick_thread_handoffs() -> None:
    sys.setswitchinterval(SWITCH_INTERVAL)


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="详细日志")
def main(verbose: bool) -> None:
    """campusbot — 教务处 chat bot."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not verbose:
        logging.getLogger("alembic").setLevel(logging.WARNING)


@main.command()
def serve() -> None:
    """Run in production: every configured platform (WeCom at /wecom/callback, DingTalk by stream or callback)."""
    settings = _settings()
    try:
        settings.require_platforms()
        settings.require_secret_key()
    except ConfigError as exc:
        click.echo(f"配置错误: {exc}", err=True)
        sys.exit(2)
    _check_specs()
    _check_calendar(settings)

    quick_thread_handoffs()
    role = "web" if settings.workers else "all"
    web.run_app(create_app(settings, "serve", role=role), host=settings.host, port=settings.port,
                reuse_port=settings.reuse_port or None, **access_log_options())


@main.command(hidden=True)
def work() -> None:
    """A worker process of ``serve`` (CAMPUSBOT_WORKERS): processes updates and sends; no HTTP server."""
    settings = _settings()
    fd = os.environ.get(NUDGE_FD)
    if fd is None:
        click.echo("campusbot work 由 campusbot serve 按 CAMPUSBOT_WORKERS 启动，不单独运行", err=True)
        sys.exit(2)
    if settings.worker_nice:
        os.nice(settings.worker_nice)
    quick_thread_handoffs()
    asyncio.run(_work(settings, int(fd)))


async def _work(settings: Settings, fd: int) -> None:
    app = create_app(settings, "serve", role="worker")
    runner = web.AppRunner(app)  # startup and cleanup without a server
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    listen_for_nudges(fd, app[CORE].wake, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


DEMO_DB = Path("data/demo.db")
DEMO_DATABASE_URL = f"sqlite+aiosqlite:///{DEMO_DB}"


@main.command()
@click.option("--keep", is_flag=True, help="keep the existing demo database instead of starting fresh")
@click.option("--database", "database_url", default=None, metavar="URL",
              help="run the demo (and its 'send as anyone' chat) against this database on purpose")
def demo(keep: bool, database_url: str | None) -> None:
    """Run the demo: a seeded fictional college and the local chat at http://HOST:PORT/."""
    settings = _settings()
    if database_url is None:
        configured = settings.database_url if "database_url" in settings.model_fields_set else ""
        if configured and configured != DEMO_DATABASE_URL:
            click.echo("配置错误: CAMPUSBOT_DATABASE_URL points at another database; 'campusbot demo' lets anyone "
                       "send as anyone, so it only uses its own data/demo.db (pass --database URL to mean it)",
                       err=True)
            sys.exit(2)
        if not keep:
            for suffix in ("", "-wal", "-shm"):
                Path(str(DEMO_DB) + suffix).unlink(missing_ok=True)
        database_url = DEMO_DATABASE_URL
    settings = _settings(database_url=database_url)
    _check_specs()
    _check_calendar(settings)

    app = create_app(settings, "demo")

    async def seed(app: web.Application) -> None:
        async with app[CORE].db.session() as s:
            await seed_demo(s)

    app.on_startup.append(seed)
    click.echo(f"演示已启动：在浏览器打开 http://{settings.host}:{settings.port}/ 选择一位老师开始对话")
    quick_thread_handoffs()
    web.run_app(app, host=settings.host, port=settings.port, print=None, **access_log_options())


@main.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply the Alembic migrations."""
    settings = _settings()
    upgrade_sync(settings.database_url)
    click.echo("数据库已是最新结构。")


@main.group()
def directory() -> None:
    """The school directory (通讯录)."""


@directory.command("import")
@click.argument("file", type=click.Path(path_type=Path))
def directory_import(file: Path) -> None:
    """Import people from .csv or .xlsx (columns userid,name,department,roles,classes)."""
    settings = _settings()
    if not file.exists():
        click.echo(f"找不到文件：{file}", err=True)
        sys.exit(1)
    try:
        rows = d.read_rows(file)
    except d.DirectoryFileError as exc:
        click.echo(f"无法导入：{exc}", err=True)
        sys.exit(1)

    def progress(n: int, total: int) -> None:
        if n == total or n % 200 == 0:
            click.echo(f"\r已处理 {n}/{total} 行", nl=n == total, err=True)

    async def go():
        database = Database(settings.database_url)
        try:
            await database.upgrade()
            async with database.session() as s:
                return await d.import_rows(s, rows, progress)
        finally:
            await database.dispose()

    report = asyncio.run(go())
    click.echo(f"新增 {report.added} 人，更新 {report.updated} 人，拒绝 {len(report.refused)} 行。")
    for rowno, reason in report.refused:
        click.echo(f"  第 {rowno} 行：{reason}")
    sys.exit(0 if not report.refused else 1)


SYNC_SOURCES = {"wecom": wecom.directory, "dingtalk": dingtalk.directory}
SYNC_NAMES = {"wecom": "企业微信", "dingtalk": "钉钉"}
SYNC_ERRORS = (PermanentSendError, TransientSendError, DingTalkAPIError, DingTalkTransientError, ClientError,
               asyncio.TimeoutError)


@directory.command("sync")
@click.option("--from", "source", required=True, type=click.Choice(sorted(SYNC_SOURCES)), help="读哪个平台的通讯录")
@click.option("--mapping", type=click.Path(path_type=Path), default=None,
              help="平台部门与系部名称不同时的对应表（.yaml 或 .csv）")
@click.option("--dry-run", is_flag=True, help="只报告会做什么，不写入")
def directory_sync(source: str, mapping: Path | None, dry_run: bool) -> None:
    """Sync people and 系部 from the platform's own 通讯录 (added, updated, left, unmapped)."""
    settings = _settings()
    needed = {"wecom": ("wecom_corp_id", "wecom_secret"),
              "dingtalk": ("dingtalk_client_id", "dingtalk_client_secret")}[source]
    for name in needed:
        if not getattr(settings, name):
            click.echo(f"配置错误: CAMPUSBOT_{name.upper()} is not set (needed by 'directory sync --from {source}')",
                       err=True)
            sys.exit(2)
    try:
        exceptions = read_mapping(mapping) if mapping else {}
    except MappingFileError as exc:
        click.echo(f"无法同步：{exc}", err=True)
        sys.exit(1)

    async def go() -> SyncReport:
        database = Database(settings.database_url)
        try:
            if not dry_run:  # a dry run changes nothing, not even the schema
                await database.upgrade()
            async with ClientSession(timeout=ClientTimeout(total=30)) as session:
                return await sync_directory(database, SYNC_SOURCES[source](settings, session), exceptions,
                                            dry_run=dry_run)
        finally:
            await database.dispose()

    try:
        report = asyncio.run(go())
    except SYNC_ERRORS as exc:
        click.echo(f"无法读取{SYNC_NAMES[source]}通讯录：{exc or type(exc).__name__}", err=True)
        sys.exit(1)
    except DBAPIError:
        click.echo("无法同步：数据库结构不是最新，请先运行 campusbot db upgrade", err=True)
        sys.exit(1)
    click.echo("\n".join(sync_report_lines(report, SYNC_NAMES[source])))


def sync_report_lines(r: SyncReport, platform: str) -> list[str]:
    """What the operator reads after a sync: the counts, then who, in four lists."""
    unmapped_people = sum(r.unmapped.values())
    lines = [f"{platform}通讯录同步：新增 {len(r.added)} 人，更新 {len(r.updated)} 人，离开 {len(r.left)} 人，"
             f"未对应系部 {len(r.unmapped)} 个部门（{unmapped_people} 人），未变 {r.unchanged} 人。"]
    if r.dry_run:
        lines.append("（试运行：没有写入任何数据）")
    sections = (("新增", [f"{u} {n}（{d}）" for u, n, d in r.added]),
                ("更新", [f"{u} {n}：{what}" for u, n, what in r.updated]),
                ("离开（已停用，记录保留）" if not r.dry_run else "离开（将停用）", [f"{u} {n}" for u, n in r.left]),
                ("未对应系部的部门（可在 --mapping 对应表中写明）", [f"{p}：{n} 人" for p, n in r.unmapped.items()]))
    for title, items in sections:
        if items:
            lines.append(f"{title}：")
            lines += [f"  {item}" for item in items]
    return lines


@main.group()
def timetable() -> None:
    """The 课表."""


@timetable.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--term", default=None, help="学期，如 2026-2027-1（默认：校历中今天所在的学期）")
def timetable_import(file: Path, term: str | None) -> None:
    """Import a 课表 from .xlsx, .xls or .csv (工号,教师,课程,班级,星期,节次,周次,教室)."""
    sys.exit(timetable_import_command(_settings(), file, term))


@main.group()
def handbook() -> None:
    """The handbook 教学常规工作."""


@handbook.command("import")
@click.argument("file", type=click.Path(exists=True, path_type=Path))
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path))
def handbook_import(file: Path, out_dir: Path) -> None:
    """Turn a handbook in this format into spec files."""
    paths = import_handbook(file, out_dir)
    click.echo(f"已生成 {len(paths)} 个工作流定义到 {out_dir}")


@main.group()
def workflows() -> None:
    """The declared workflows."""


@workflows.command("list")
@click.option("--json", "as_json", is_flag=True)
def workflows_list(as_json: bool) -> None:
    try:
        specs = default_specs()
    except SpecError as exc:
        click.echo("工作流定义有误：\n" + str(exc), err=True)
        sys.exit(2)
    if as_json:
        click.echo(json.dumps(workflows_json(specs), ensure_ascii=False, indent=2))
    else:
        click.echo(workflows_table(specs))


@main.group()
def calendar() -> None:
    """The academic calendar (校历)."""


@calendar.command("check")
@click.argument("file", required=False, type=click.Path(path_type=Path))
def calendar_check(file: Path | None) -> None:
    sys.exit(calendar_check_command(file))


@calendar.command("windows")
@click.option("--from", "date_from", required=False)
@click.option("--to", "date_to", required=False)
@click.option("--json", "as_json", is_flag=True)
@click.option("--calendar", "path", required=False, type=click.Path(path_type=Path))
def calendar_windows(date_from: str | None, date_to: str | None, as_json: bool, path: Path | None) -> None:
    try:
        sys.exit(calendar_windows_command(date_from, date_to, as_json, path))
    except ConfigError as exc:
        click.echo(f"配置错误: {exc}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
