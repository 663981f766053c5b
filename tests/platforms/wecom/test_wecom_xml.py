"""The callback XML reader: the root's text fields in one pass, refusing what a callback never holds."""
from __future__ import annotations

import pytest

from bot.platforms.wecom.xml import MAX_DEPTH, BadXml, read_fields


def test_text_fields_are_read_with_cdata_and_surrounding_whitespace_stripped():
    fields = read_fields("<xml>\n  <ToUserName><![CDATA[ww1]]></ToUserName>\n  <Content><![CDATA[ 帮助 ]]></Content>"
                         "\n  <CreateTime>1700000000</CreateTime>\n</xml>".encode())
    assert fields.text("ToUserName") == "ww1" and fields.text("Content") == "帮助"
    assert fields.text("CreateTime") == "1700000000" and fields.text("MsgId") == ""


def test_a_field_that_is_not_text_is_refused_when_read():
    fields = read_fields(b"<xml><FromUserName><a>x</a></FromUserName><Content>1</Content><Content>2</Content>"
                         b"<SelectedItems><SelectedItem><OptionIds><OptionId>1</OptionId></OptionIds>"
                         b"</SelectedItem></SelectedItems></xml>")
    for name in ("FromUserName", "Content"):  # nested; given twice
        with pytest.raises(BadXml):
            fields.text(name)


@pytest.mark.parametrize("data", [
    b"", b"<notxml><a>1</a></notxml>", b"<xml><a>1</a>",
    b'<!DOCTYPE xml [<!ENTITY e "x">]><xml><a>&e;</a></xml>',
    b"<xml>" + b"<a>" * MAX_DEPTH + b"</a>" * MAX_DEPTH + b"</xml>",
])
def test_what_a_callback_never_holds_is_refused(data):
    with pytest.raises(BadXml):
        read_fields(data)
