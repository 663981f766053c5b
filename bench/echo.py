"""The bare baseline: aiohttp + wechatpy, decrypt and parse a WeCom callback, answer 200.

No database, no dedup, no processing: the ceiling an ack can reach on this machine.

    python -m bench.echo PORT
"""
from __future__ import annotations

import sys

from aiohttp import web
from wechatpy.enterprise import parse_message
from wechatpy.enterprise.crypto import WeChatCrypto

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))
from tests.support.wecom_helpers import AES_KEY, CORP_ID, TOKEN  # noqa: E402


def make_app() -> web.Application:
    crypto = WeChatCrypto(TOKEN, AES_KEY, CORP_ID)

    async def receive(request: web.Request) -> web.Response:
        body = await request.read()
        q = request.query
        plaintext = crypto.decrypt_message(body, q["msg_signature"], q["timestamp"], q["nonce"])
        parse_message(plaintext)
        return web.Response(status=200)

    async def health(_request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/wecom/callback", receive)
    app.router.add_get("/healthz", health)
    return app


if __name__ == "__main__":
    web.run_app(make_app(), host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
