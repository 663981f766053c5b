"""WeCom's callback XML, read in one streaming pass of expat.

A callback (the envelope, then the message inside it) is ``<xml>`` with flat fields; the deepest
WeCom sends is ``<xml><SelectedItems><SelectedItem><OptionIds><OptionId>``. So the pass refuses
any DTD (so no entity expansion, no external entity) and nesting deeper than :data:`MAX_DEPTH`,
stopping at the first offence, and keeps only the text of the root's children: what the callback
reads. It replaced a shape check plus xmltodict (and wechatpy's message classes) for each of the two
documents, most of an acknowledgement's time.
"""
from __future__ import annotations

import xml.parsers.expat
from dataclasses import dataclass

MAX_DEPTH = 8


class BadXml(ValueError):
    """The document is not a callback's XML; the reason is for the log."""


@dataclass(frozen=True)
class Fields:
    """The root's children: their text (whitespace around it stripped, as xmltodict did), and the
    names that are not plain text (children of their own, or given twice)."""

    values: dict[str, str]
    structured: frozenset[str]

    def text(self, name: str) -> str:
        """A field's text, "" when absent; one that is not text is refused."""
        if name in self.structured:
            raise BadXml(f"{name} is not text")
        return self.values.get(name, "")


def read_fields(data: bytes) -> Fields:
    values: dict[str, str] = {}
    structured: set[str] = set()
    parts: list[str] = []
    depth = 0
    current = ""

    def start(name: str, _attrs) -> None:
        nonlocal depth, current
        depth += 1
        if depth > MAX_DEPTH:
            raise BadXml("XML nested too deeply")
        if depth == 1 and name != "xml":
            raise BadXml("no <xml> root")
        if depth == 2:
            current = name
            parts.clear()
        elif depth == 3:
            structured.add(current)

    def end(_name: str) -> None:
        nonlocal depth
        if depth == 2:
            if current in values:
                structured.add(current)
            values[current] = "".join(parts).strip()
        depth -= 1

    def characters(text: str) -> None:
        if depth == 2:
            parts.append(text)

    def refuse(*_args) -> None:
        raise BadXml("XML with a DTD")

    parser = xml.parsers.expat.ParserCreate()
    parser.buffer_text = True
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = characters
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    try:
        parser.Parse(data, True)
    except BadXml:
        raise
    except Exception as exc:  # noqa: BLE001 - expat errors, bad encodings
        raise BadXml(f"bad XML: {type(exc).__name__}") from None
    return Fields(values, frozenset(structured))
