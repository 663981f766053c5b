"""What is wrong with something a person sent, kept as data until someone reads it.

A :class:`Problem` is a code and its values; the sentence is the macro named
``code`` in its family's template under ``messages/`` (``upload/problems.j2``
for file limits and sheet layout, ``data/problems.j2`` for the data steps'
cell checks). Checks return Problems; whoever shows them to a person renders
them with :func:`render_problems`, so the upload page and chat read the same.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:
    from bot.render import Renderer

UPLOAD_PROBLEMS = "upload/problems.j2"
DATA_PROBLEMS = "data/problems.j2"


@dataclass
class Problem:
    code: str  # the macro's name
    values: dict = field(default_factory=dict)  # what the macro prints
    template: str = UPLOAD_PROBLEMS  # the family's template


def render_problems(renderer: "Renderer", problems: Iterable[Problem]) -> list[str]:
    """One sentence per problem, in order."""
    return [renderer.macro(p.template, p.code, **p.values) for p in problems]
