"""Text files as Chinese offices save them: UTF-8 (with or without a BOM) or GBK/GB18030."""
from __future__ import annotations

ENCODINGS = ("utf-8-sig", "gb18030")


def decode_office_text(raw: bytes) -> str | None:
    """The text of a CSV saved by Excel or WPS; None when it is neither encoding."""
    for enc in ENCODINGS:
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            continue
    return None
