"""OutboundMessage → WeCom ``message/send`` body (without touser/agentid).

Lengths marked "suggested" in WeCom's template-card docs are clipped with an
ellipsis so a long value degrades the card instead of failing the send; values
that carry ids (task_id, button keys) are never altered — a bad one raises
:class:`CardError`, because changing it would break routing of the click.
"""
from __future__ import annotations

import re

from bot.outbound import Button, Card, OutboundMessage

TEXT_MAX_BYTES = 2048  # text and markdown content
TITLE_MAX = 36  # main_title.title (docs suggest 26; the client wraps to two lines)
SUBTITLE_MAX = 112  # sub_title_text, suggested
FIELDS_MAX = 6  # horizontal_content_list length, hard
KEYNAME_MAX = 5  # horizontal_content_list.keyname, suggested
VALUE_MAX = 26  # horizontal_content_list.value, suggested
BUTTONS_MAX = 6  # button_list length, hard
BUTTON_TEXT_MAX = 10  # button_list.text, suggested
BUTTON_KEY_MAX_BYTES = 1024
JUMP_TITLE_MAX = 13  # jump_list.title, suggested
DEFAULT_URL_TEXT = "查看详情"
TASK_ID_RE = re.compile(r"[0-9A-Za-z_\-@]{1,128}")
ELLIPSIS = "…"
# Semantic button styles → WeCom's button_list.style (1 blue, 2 grey, 3 red, 4 light blue).
BUTTON_STYLES = {"primary": 1, "secondary": 2, "danger": 3, "link": 4}


class CardError(ValueError):
    """The message cannot be expressed on WeCom (a template bug, not a transient failure)."""


def render(message: OutboundMessage) -> dict:
    """The platform-specific part of a message/send body."""
    if message.kind == "text":
        return {"msgtype": "text", "text": {"content": _content(message.text)}}
    if message.kind == "markdown":
        return {"msgtype": "markdown", "markdown": {"content": _content(message.text)}}
    if message.kind == "card":
        if message.card is None:
            raise CardError("card message without a card")
        return render_card(message.card, message.card_id)
    raise CardError(f"{message.kind!r} is not sent through message/send")


def render_card(card: Card, task_id: str) -> dict:
    """button_interaction with buttons; text_notice for a link-only card; text otherwise."""
    if card.buttons:
        return {"msgtype": "template_card", "template_card": _button_card(card, task_id)}
    if card.url:
        return {"msgtype": "template_card", "template_card": _notice_card(card, task_id)}
    # text_notice requires a card_action; a card with nothing to click is plain text.
    return {"msgtype": "text", "text": {"content": _content(_as_text(card))}}


def settled_card(message: OutboundMessage) -> dict:
    """A card_update's whole card: the original, its first line saying the final state, buttons greyed."""
    assert message.card is not None
    card = message.card
    state = message.text.strip()
    settled = Card(title=card.title, description=f"{state}\n{card.description}".strip(), fields=card.fields,
                   buttons=card.buttons, url=card.url, url_text=card.url_text)
    body = _button_card(settled, message.card_id) if card.buttons else _notice_card(settled, message.card_id)
    body["replace_text"] = clip(message.replace_name or "已处理", BUTTON_TEXT_MAX)
    return body


def truncate_utf8(text: str, max_bytes: int, marker: str = ELLIPSIS) -> str:
    """Cut ``text`` to ``max_bytes`` UTF-8 bytes on a character boundary, marking the cut."""
    raw = text.encode("utf-8")
    if len(raw) <= max_bytes:
        return text
    room = max_bytes - len(marker.encode("utf-8"))
    if room < 0:
        return raw[:max_bytes].decode("utf-8", "ignore")
    return raw[:room].decode("utf-8", "ignore") + marker


def clip(text: str, max_chars: int) -> str:
    """At most ``max_chars`` characters, the last one an ellipsis when cut."""
    text = text.strip()
    return text if len(text) <= max_chars else text[: max_chars - 1] + ELLIPSIS


# -- internals ---------------------------------------------------------------


def _content(text: str) -> str:
    if not text.strip():
        raise CardError("empty message text")
    return truncate_utf8(text, TEXT_MAX_BYTES)


def _check_task_id(task_id: str) -> None:
    if not TASK_ID_RE.fullmatch(task_id or ""):
        raise CardError(f"task_id {task_id!r} must match [0-9A-Za-z_-@]{{1,128}}")


def _common(card: Card) -> dict:
    body: dict = {"main_title": {"title": clip(card.title, TITLE_MAX)}}
    fields = [(str(k), str(v)) for k, v in card.fields]
    shown, overflow = fields[:FIELDS_MAX], fields[FIELDS_MAX:]
    description = card.description.strip()
    if overflow:
        # Keep the information: extra fields go under the description.
        extra = "\n".join(f"{k}：{v}" for k, v in overflow)
        description = f"{description}\n{extra}" if description else extra
    if description:
        body["sub_title_text"] = clip(description, SUBTITLE_MAX)
    if shown:
        body["horizontal_content_list"] = [
            {"keyname": clip(k, KEYNAME_MAX) or "-", "value": clip(v, VALUE_MAX) or "-"} for k, v in shown
        ]
    if card.url:
        _check_url(card.url)
        title = clip(card.url_text or DEFAULT_URL_TEXT, JUMP_TITLE_MAX)
        body["jump_list"] = [{"type": 1, "title": title, "url": card.url}]
        body["card_action"] = {"type": 1, "url": card.url}
    return body


def _button_card(card: Card, task_id: str) -> dict:
    _check_task_id(task_id)
    if len(card.buttons) > BUTTONS_MAX:
        # Dropping a button (e.g. 拒绝) silently would be worse than failing loudly.
        raise CardError(f"{len(card.buttons)} buttons; WeCom allows {BUTTONS_MAX}")
    return {
        "card_type": "button_interaction",
        "task_id": task_id,
        **_common(card),
        "button_list": [_button(b) for b in card.buttons],
    }


def _notice_card(card: Card, task_id: str) -> dict:
    body: dict = {"card_type": "text_notice"}
    if task_id:
        _check_task_id(task_id)
        body["task_id"] = task_id
    body.update(_common(card))
    return body


def _button(button: Button) -> dict:
    if not button.key or len(button.key.encode("utf-8")) > BUTTON_KEY_MAX_BYTES:
        raise CardError(f"button key must be 1-{BUTTON_KEY_MAX_BYTES} bytes")
    style = BUTTON_STYLES.get(button.style, 1)
    return {"text": clip(button.text, BUTTON_TEXT_MAX) or "-", "style": style, "key": button.key}


def _check_url(url: str) -> None:
    if not url.startswith(("https://", "http://")):
        raise CardError(f"card url must be http(s): {url[:60]!r}")


def _as_text(card: Card) -> str:
    lines = [card.title.strip()]
    if card.description.strip():
        lines.append(card.description.strip())
    lines.extend(f"{k}：{v}" for k, v in card.fields)
    return "\n".join(line for line in lines if line)
