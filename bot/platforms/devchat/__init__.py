"""The local web chat (``campusbot demo``): every person's phone in a browser tab.

The sender stores outbound messages as rows; the pages poll them and post what
the person types or clicks back as :class:`~bot.events.Event` s, exactly as the
WeCom callback would.
"""
from bot.platforms.devchat.routes import setup_devchat_routes
from bot.platforms.devchat.sender import DevchatSender

__all__ = ["DevchatSender", "setup_devchat_routes"]
