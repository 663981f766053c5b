"""Signed, expiring links for pages opened from a card (upload, record).

WeCom delivers no files sent to an app, so uploads go through a page. Every link
names its person and expires; outside WeCom the link is the credential, inside
WeCom the visitor must also be that person (or have rights over the run): see
bot/page_access.py.
"""
from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import urlencode

from bot.config import Settings

UPLOAD_TTL = 7 * 24 * 3600
RECORD_TTL = 30 * 24 * 3600


def _sign(settings: Settings, *parts: object) -> str:
    msg = "|".join(str(p) for p in parts).encode()
    return hmac.new(settings.signing_key, msg, hashlib.sha256).hexdigest()[:32]


def public_base(settings: Settings) -> str:
    """Where people reach this server: ``CAMPUSBOT_PUBLIC_URL``, or http://HOST:PORT."""
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
    return (settings.public_url or f"http://{host}:{settings.port}").rstrip("/")


def signed_task_link(settings: Settings, kind: str, task_id: int, userid: str, now: float | None = None) -> str:
    exp = int((now or time.time()) + UPLOAD_TTL)
    sig = _sign(settings, kind, task_id, userid, exp)
    return f"{public_base(settings)}/{kind}/{task_id}?" + urlencode({"u": userid, "exp": exp, "sig": sig})


def signed_run_link(settings: Settings, kind: str, run_id: int, userid: str, now: float | None = None) -> str:
    """A run's page (the 调停课 record) for one recipient: each person gets their own link."""
    exp = int((now or time.time()) + RECORD_TTL)
    sig = _sign(settings, kind, run_id, userid, exp)
    return f"{public_base(settings)}/{kind}/{run_id}?" + urlencode({"u": userid, "exp": exp, "sig": sig})


def verify(settings: Settings, kind: str, obj_id: int, userid: str, exp: str, sig: str,
           now: float | None = None) -> str | None:
    """None when valid; otherwise why not: ``incomplete``, ``invalid`` or ``expired``
    (a page shows it with the ``link_refused`` macro in messages/pages/texts.j2)."""
    try:
        exp_i = int(exp)
    except (TypeError, ValueError):
        return "incomplete"
    if not hmac.compare_digest(_sign(settings, kind, obj_id, userid, exp_i), sig or ""):
        return "invalid"
    if exp_i < (now or time.time()):
        return "expired"
    return None


FILE_KIND = "file"


def download_url(settings: Settings, file_id: int, userid: str) -> str:
    """A signed link for ``userid`` to download stored file ``file_id`` (7 days)."""
    return signed_task_link(settings, FILE_KIND, file_id, userid)


RUN_FILES_KIND = "files"


def run_files_url(settings: Settings, run_id: int, userid: str) -> str:
    """A signed link for ``userid`` to the page of every file uploaded in run ``run_id`` (30 days)."""
    return signed_run_link(settings, RUN_FILES_KIND, run_id, userid)
