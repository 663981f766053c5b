"""Shared fixtures: a real database (SQLite, and PostgreSQL when
CAMPUSBOT_TEST_DATABASE_URL is set; under pytest-xdist each worker's own, see tests/support/databases.py),
the fake WeCom API, and the app over real HTTP.
Every app built here runs on tests/support/clock.py's school_clock(): the real date never matters."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.cli import quick_thread_handoffs
from tests.support.databases import PG_SKIP, ensure_database, per_worker, reset_postgres

quick_thread_handoffs()  # the tests' in-process apps hand off to aiosqlite's threads as serve does

PG_URL = per_worker(os.environ.get("CAMPUSBOT_TEST_DATABASE_URL", ""))
if PG_URL:
    os.environ["CAMPUSBOT_TEST_DATABASE_URL"] = PG_URL  # tests/reliability/support.py reads it too
# Walks send one person many messages within a simulated minute: no per-person pace for them
# (tests/runtime/test_outbox.py tests the pace with its own drainer).
os.environ.setdefault("CAMPUSBOT_OUTBOX_PERSON_PER_MINUTE", "0")


def pytest_configure(config) -> None:
    if PG_URL and os.environ.get("PYTEST_XDIST_WORKER"):
        ensure_database(PG_URL)


@pytest.fixture(params=["sqlite", "postgresql"])
async def db_url(request, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/test.db"
    if not PG_URL:
        pytest.skip(PG_SKIP)
    await reset_postgres(PG_URL)
    return PG_URL


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path}/test.db"


@pytest.fixture
async def fake_wecom():
    from tests.support.fakewecom import FakeWeCom
    from tests.support.wecom_helpers import CORP_ID

    fake = FakeWeCom(corp_id=CORP_ID, secret="test-secret")
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
async def fake_dingtalk():
    from tests.support.dingtalk_harness import CLIENT_ID, SECRET
    from tests.support.fakedingtalk import FakeDingTalk

    fake = FakeDingTalk(client_id=CLIENT_ID, client_secret=SECRET)
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
async def dingtalk(aiohttp_client, db_url, tmp_path, fake_dingtalk):
    """The app in production mode with only DingTalk configured, the demo directory imported, on the school clock."""
    from bot.app import CORE, create_app
    from tests.support.clock import school_clock
    from tests.support.databases import seeded
    from tests.support.dingtalk_harness import DingTalkHarness, dingtalk_settings

    await seeded(db_url)
    app = create_app(dingtalk_settings(db_url, tmp_path, fake_dingtalk), "serve", start_workers=False,
                     clock=school_clock())
    client = await aiohttp_client(app)
    await fake_dingtalk.wait_connected()
    return DingTalkHarness(client, app[CORE], fake_dingtalk)


@pytest.fixture
def wecom_settings(db_url: str, tmp_path: Path, fake_wecom):
    from bot.config import Settings
    from tests.support.wecom_helpers import AES_KEY, AGENT_ID, CORP_ID, TOKEN

    return Settings(
        database_url=db_url, data_dir=tmp_path / "data", public_url="http://campusbot.test",
        wecom_corp_id=CORP_ID, wecom_agent_id=AGENT_ID, wecom_secret="test-secret", wecom_token=TOKEN,
        wecom_aes_key=AES_KEY, wecom_api_base=fake_wecom.base_url, wecom_oauth_base=fake_wecom.base_url,
        wecom_max_skew=300, secret_key="test-secret-key-0123456789",
        wecom_retry_base=0.01,
    )


@pytest.fixture
async def wecom(aiohttp_client, wecom_settings, fake_wecom):
    """The app in production mode over real HTTP, the demo directory imported, workers driven by the test."""
    from bot.app import CORE, create_app
    from tests.support.clock import school_clock
    from tests.support.harness import WeComHarness
    from tests.support.databases import seeded

    await seeded(wecom_settings.database_url)  # migrated, the demo directory and 课表 in
    app = create_app(wecom_settings, "serve", start_workers=False, clock=school_clock())
    client = await aiohttp_client(app)
    return WeComHarness(client, app[CORE], fake_wecom)


@pytest.fixture
async def devchat(aiohttp_client, tmp_path: Path) -> "DevchatHarness":
    """The app in demo mode over real HTTP, the demo directory imported, workers driven by the test."""
    from bot.app import CORE, create_app
    from bot.config import Settings
    from tests.support.clock import school_clock
    from tests.support.devchat_harness import DevchatHarness
    from tests.support.databases import seeded

    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/d.db", data_dir=tmp_path / "data",
                        public_url="http://campusbot.test")
    await seeded(settings.database_url)
    app = create_app(settings, "demo", start_workers=False, clock=school_clock())
    client = await aiohttp_client(app)
    return DevchatHarness(client, app[CORE])


@pytest.fixture
async def browsers(wecom):
    """People's WeCom clients (tests/support/identity.py), closed after the test."""
    from tests.support.identity import WXWORK_UA, Browser

    opened: list[Browser] = []

    def make(userid: str, ua: str = "") -> "Browser":
        opened.append(Browser(wecom, userid, ua or WXWORK_UA))
        return opened[-1]

    yield make
    for b in opened:
        await b.close()


@pytest.fixture
async def base_url(aiohttp_server, tmp_path: Path) -> str:
    """The demo app with its real workers, on a free port the app knows (its card links point at it);
    its clock is pinned like the harness's, so what people type may name dates of SCHOOL_NOW's week."""
    from bot.app import CORE, create_app
    from bot.config import Settings
    from tests.support.clock import school_clock
    from tests.support.people import seed
    from tests.support.processes import _free_port

    port = _free_port()
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/t.db", data_dir=tmp_path,
                        host="127.0.0.1", port=port, public_url=f"http://127.0.0.1:{port}")
    app = create_app(settings, mode="demo", clock=school_clock())
    server = await aiohttp_server(app, host="127.0.0.1", port=port)
    await seed(app[CORE])
    return str(server.make_url("")).rstrip("/")


@pytest.fixture
async def demo_site(aiohttp_server, tmp_path: Path):
    """The demo app with its real workers on a free port, its core and a clock the test can move
    (10:00 Beijing on tests/support/flows.py TODAY, ticking)."""
    import socket
    from datetime import datetime
    from types import SimpleNamespace

    from bot.app import CORE, create_app
    from bot.config import Settings
    from tests.support.clock import ShiftedClock
    from tests.support.people import seed

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/t.db", data_dir=tmp_path / "data",
                        host="127.0.0.1", port=port, public_url=f"http://127.0.0.1:{port}")
    clock = ShiftedClock(datetime(2026, 12, 3, 2, 0))
    app = create_app(settings, mode="demo", clock=clock)
    server = await aiohttp_server(app, host="127.0.0.1", port=port)
    await seed(app[CORE])
    return SimpleNamespace(url=str(server.make_url("")).rstrip("/"), core=app[CORE], clock=clock)
