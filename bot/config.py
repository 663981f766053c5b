"""Settings from the environment (and an optional ``.env``): the public interface.

A missing or invalid setting is reported as one line naming it; the CLI exits 2.
"""
from __future__ import annotations

import secrets
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATA_DIR = Path("data")
MIN_SECRET_KEY = 16


class ConfigError(Exception):
    """A setting is missing or invalid; the message names it."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CAMPUSBOT_", env_file=".env", extra="ignore")

    database_url: str = f"sqlite+aiosqlite:///{DEFAULT_DATA_DIR}/campusbot.db"
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    # Several ``campusbot serve`` processes on one port (SO_REUSEPORT): the kernel spreads callbacks
    # over them and every process works the shared queue (leases and claims keep each update once).
    reuse_port: bool = False
    # Processes beside ``serve`` that process updates and send (``bot.workers``): the serving process
    # then only stores and acknowledges callbacks, on its own core, at a higher priority than the
    # workers (they run ``worker_nice`` steps lower). 0: one process does everything.
    workers: int = Field(default=0, ge=0, le=32)
    worker_nice: int = Field(default=10, ge=0, le=19)
    public_url: str = ""
    data_dir: Path = DEFAULT_DATA_DIR
    secret_key: str = ""  # signs links and page sessions; required by serve, never derived from anything

    wecom_corp_id: str = ""
    wecom_agent_id: str = ""
    wecom_secret: str = ""
    wecom_token: str = ""
    wecom_aes_key: str = ""
    wecom_api_base: str = "https://qyapi.weixin.qq.com"
    wecom_oauth_base: str = "https://open.weixin.qq.com"  # where pages send a visitor to be identified
    wecom_max_skew: int = Field(default=300, ge=0)
    wecom_retry_base: float = Field(default=0.5, gt=0, le=60)  # seconds; the client's first backoff

    dingtalk_client_id: str = ""  # the app's AppKey / Client ID
    dingtalk_client_secret: str = ""
    dingtalk_robot_code: str = ""  # the robot's code; the client id when empty
    dingtalk_agent_id: str = ""  # only for 工作通知 (work notifications)
    dingtalk_card_template_id: str = ""  # the imported approval card (bot/platforms/dingtalk/card_template.json)
    dingtalk_mode: Literal["stream", "http"] = "stream"
    dingtalk_api_base: str = "https://api.dingtalk.com"
    dingtalk_oapi_base: str = "https://oapi.dingtalk.com"
    dingtalk_corp_id: str = ""  # pages inside DingTalk identify their visitor (免登) only when it is set
    dingtalk_jsapi_url: str = "https://g.alicdn.com/dingding/dingtalk-jsapi/3.0.25/dingtalk.open.js"
    dingtalk_retry_base: float = Field(default=0.5, gt=0, le=60)  # seconds; the API client's first backoff
    dingtalk_reconnect_base: float = Field(default=1.0, gt=0, le=60)  # seconds; the stream's first backoff
    dingtalk_reconnect_cap: float = Field(default=60.0, gt=0, le=600)

    # The outbox's pace (WeCom's limits): calls per minute per app, messages per minute per person
    # (0: no per-person limit; a person over it is deferred, never slept on).
    outbox_app_calls_per_minute: int = Field(default=20000, ge=1)
    outbox_person_per_minute: int = Field(default=30, ge=0)

    calendar_file: Path | None = None  # the 校历; the demo's 2026-2027 one by default
    work_hours: str = "08:30-17:30"  # reminders go out only inside these hours on working days
    timezone: str = "Asia/Shanghai"

    @field_validator("wecom_aes_key")
    @classmethod
    def _aes_key(cls, v: str) -> str:
        if v and len(v) != 43:
            raise ValueError("EncodingAESKey 应为 43 个字符")
        return v

    @field_validator("wecom_agent_id")
    @classmethod
    def _agent_id(cls, v: str) -> str:
        if v and not v.isdigit():
            raise ValueError("AgentId 应为数字")
        return v

    @field_validator("work_hours")
    @classmethod
    def _hours(cls, v: str) -> str:
        try:
            a, b = v.split("-")
            for t in (a, b):
                h, m = t.split(":")
                assert 0 <= int(h) < 24 and 0 <= int(m) < 60
        except Exception:
            raise ValueError("应写成 08:30-17:30 的形式") from None
        return v

    @property
    def wecom_configured(self) -> bool:
        return all([self.wecom_corp_id, self.wecom_agent_id, self.wecom_secret, self.wecom_token, self.wecom_aes_key])

    @property
    def dingtalk_configured(self) -> bool:
        return bool(self.dingtalk_client_id and self.dingtalk_client_secret and self.dingtalk_card_template_id)

    @property
    def dingtalk_robot(self) -> str:
        return self.dingtalk_robot_code or self.dingtalk_client_id

    def require_platforms(self) -> list[str]:
        """``serve`` runs every configured platform; a half-configured one, or none, is named in one line."""
        wecom = ("wecom_corp_id", "wecom_agent_id", "wecom_secret", "wecom_token", "wecom_aes_key")
        dingtalk = ("dingtalk_client_id", "dingtalk_client_secret", "dingtalk_card_template_id")
        dingtalk_any = dingtalk + ("dingtalk_robot_code", "dingtalk_agent_id")
        on: list[str] = []
        for platform, needed, started in (("wecom", wecom, wecom), ("dingtalk", dingtalk, dingtalk_any)):
            if not any(getattr(self, name) for name in started):
                continue
            for name in needed:
                if not getattr(self, name):
                    raise ConfigError(f"CAMPUSBOT_{name.upper()} is not set ({platform} is half-configured)")
            on.append(platform)
        if not on:
            raise ConfigError("no platform configured: set CAMPUSBOT_WECOM_CORP_ID and the other CAMPUSBOT_WECOM_* "
                              "settings, or CAMPUSBOT_DINGTALK_CLIENT_ID and the other CAMPUSBOT_DINGTALK_* "
                              "settings (required by 'campusbot serve')")
        return on

    def require_secret_key(self) -> None:
        """``serve`` signs links with a key of its own: a leaked WeCom secret must not forge them."""
        if len(self.secret_key) < MIN_SECRET_KEY:
            what = "is not set" if not self.secret_key else f"is shorter than {MIN_SECRET_KEY} characters"
            raise ConfigError(f"CAMPUSBOT_SECRET_KEY {what} (required by 'campusbot serve'; "
                              "e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(32))')")

    @property
    def signing_key(self) -> bytes:
        """The key for links and page sessions; there is no fallback (see :func:`demo_secret_key`)."""
        if not self.secret_key:
            raise ConfigError("CAMPUSBOT_SECRET_KEY is not set")
        return self.secret_key.encode()


def demo_secret_key(data_dir: Path) -> str:
    """The demo's own random key, kept in its data folder so links survive a demo restart."""
    path = Path(data_dir) / "demo_secret_key"
    try:
        key = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        key = ""
    if len(key) < MIN_SECRET_KEY:
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(32)
        path.write_text(key + "\n", encoding="utf-8")
        path.chmod(0o600)
    return key


def load_settings(**overrides) -> Settings:
    """Settings from the environment; raises ConfigError naming the bad variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        err = exc.errors()[0]
        name = "CAMPUSBOT_" + str(err["loc"][0]).upper() if err["loc"] else "CAMPUSBOT_*"
        raise ConfigError(f"{name}: {err['msg']}") from None
