"""Conversation handlers by workflow family, and the declared workflow specs."""
from __future__ import annotations


def load_router():
    """Import every handler module (they register on the shared router) and return it."""
    from bot.router import router
    from handlers import adjust_class, forms, notices, schedule, uploads, workflows  # noqa: F401

    return router
