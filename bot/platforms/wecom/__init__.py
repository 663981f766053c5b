"""WeCom (企业微信) self-built app adapter: the only code that knows WeCom.

Wiring (done by the app)::

    client = WeComClient(settings, session)
    setup_wecom_routes(app, settings, sink, make_media_fetcher(client, settings.data_dir / "files"))
    sender = WeComSender(client)
"""
from bot.platforms.wecom.callback import make_media_fetcher, parse_event, setup_wecom_routes
from bot.platforms.wecom.cards import CardError, render
from bot.platforms.wecom.client import WeComAPIError, WeComClient, WeComTransientError
from bot.platforms.wecom.crypto import CallbackRejected, WeComCrypto
from bot.platforms.wecom.sender import BatchTooLargeError, WeComSender

__all__ = [
    "BatchTooLargeError",
    "CallbackRejected",
    "CardError",
    "WeComAPIError",
    "WeComClient",
    "WeComCrypto",
    "WeComSender",
    "WeComTransientError",
    "make_media_fetcher",
    "parse_event",
    "render",
    "setup_wecom_routes",
]
