"""Every outbound text, card and page comes from a jinja2 template in ``messages/``.

Text templates end in ``.j2``; card templates in ``.yaml.j2`` render to YAML
(values through ``|tojson``) and become a :class:`Card`.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import jinja2
import yaml

from bot.buttons import CARD_KEYS
from bot.outbound import Button, Card, OutboundMessage, button_style

# libyaml's safe loader when PyYAML was built with it (the wheels are): several times faster per card.
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

MESSAGES = Path(__file__).resolve().parent.parent / "messages"
CN_TZ = timedelta(hours=8)


def _local(dt: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """Stored times are naive UTC; people read Beijing time."""
    if dt is None:
        return ""
    return (dt + CN_TZ).strftime(fmt)


class _Undefined(jinja2.StrictUndefined):
    """Printing a missing value is a bug; testing an optional flag with ``if`` is not."""

    def __bool__(self) -> bool:
        return False


class Renderer:
    def __init__(self, root: Path = MESSAGES):
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(root)),
            autoescape=jinja2.select_autoescape(["html"]),
            undefined=_Undefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
            auto_reload=False,  # no file check per message: templates change with a deploy (a restart)
            cache_size=1000,  # every template stays compiled
        )
        self.env.filters["local"] = _local
        # Button keys are built by the same classes the handlers parse them with (bot/buttons.py).
        self.env.globals.update({k.__name__: k for k in CARD_KEYS})

    def text(self, name: str, **ctx) -> str:
        return self.env.get_template(name).render(**ctx).strip()

    def macro(self, template_name: str, macro_name: str, **ctx) -> str:
        """One message out of a template that groups a form's prompts and errors as macros."""
        module = self.env.get_template(template_name).make_module(ctx)
        return str(getattr(module, macro_name)()).strip()

    def add_templates(self, root: Path) -> None:
        """A platform's own templates, looked up after ``messages/`` (the local chat's ``devchat/…``)."""
        self.env.loader = jinja2.ChoiceLoader([self.env.loader, jinja2.FileSystemLoader(str(root))])

    def page(self, name: str, **ctx) -> str:
        return self.env.get_template(name).render(**ctx)

    def card(self, name: str, **ctx) -> Card:
        data = yaml.load(self.env.get_template(name).render(**ctx), Loader=SAFE_LOADER) or {}
        return Card(
            title=str(data.get("title", "")),
            description=str(data.get("description", "") or ""),
            fields=[(str(k), str(v)) for k, v in (data.get("fields") or [])],
            buttons=[Button(text=str(b["text"]), key=str(b["key"]), style=button_style(b.get("style", "primary")))
                     for b in (data.get("buttons") or [])],
            url=str(data.get("url", "") or ""),
            url_text=str(data.get("url_text", "") or ""),
        )

    def text_message(self, name: str, **ctx) -> OutboundMessage:
        return OutboundMessage(kind="text", text=self.text(name, **ctx))

    def card_message(self, name: str, **ctx) -> OutboundMessage:
        return OutboundMessage(kind="card", card=self.card(name, **ctx))
