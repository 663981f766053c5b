"""Blocking file work (parsing a spreadsheet, sniffing a file) runs here, never on the event loop.

A small, bounded pool of threads. openpyxl holds the GIL while it parses, but
the interpreter hands the GIL back to the event loop every few milliseconds:
measured on the 2-core test machine under load, a 400,000-cell sheet parsed
here stalled the loop by at most ~0.25 s (tests/reliability/test_upload_bomb.py
prints the figure against /healthz). A process pool measured no better there
(~0.4 s, from spawning and unpickling the rows) and would have to pickle each
step's hooks, so threads it is. Two workers: a third upload waits its turn
instead of taking the loop's share of the GIL.
"""
from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Callable, TypeVar

T = TypeVar("T")
WORKERS = 2
_pool: ThreadPoolExecutor | None = None


def _executor() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="campusbot-files")
    return _pool


async def off_loop(fn: Callable[..., T], *args, **kwargs) -> T:
    """``fn(*args, **kwargs)`` on the file pool; the caller must hold no database session."""
    return await asyncio.get_running_loop().run_in_executor(_executor(), partial(fn, *args, **kwargs))
