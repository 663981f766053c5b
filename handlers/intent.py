"""Which workflow a sentence names: "我要调课", "帮我停课", "老师好，我下周三要去开会，想调一下课".

Pure functions over the specs: a workflow is named by its code, its name or one of its spec
``aliases``; a two-character alias may have 一下/个/次 inside it (调一下课, 停个课). The longest
name wins, so 调停课 beats 调课 and 毕业大补考 beats 补考.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

from workflow.spec import WorkflowSpec

_FILLERS = "一下|一个|一次|一节|下|个|次"
_NOISE = re.compile(r"[\s,，.。!！?？、:：;；~～\"“”'‘’()（）]+")
# Words that ask for something: a sentence that merely mentions 课时 or 教材 is not a request.
_ASKING = re.compile(r"要|想|申请|帮|麻烦|需要|发起|启动|办理|办一下|怎么|如何|可以|能不能|能否|请")


def _plain(text: str) -> str:
    return _NOISE.sub("", unicodedata.normalize("NFKC", text))


def _pattern(word: str) -> re.Pattern:
    word = _plain(word)
    if len(word) == 2:
        return re.compile(re.escape(word[0]) + f"(?:{_FILLERS})?" + re.escape(word[1]))
    return re.compile(re.escape(word))


def named_workflow(specs: Mapping[str, WorkflowSpec], text: str) -> tuple[WorkflowSpec, str] | None:
    """The workflow the sentence names and the word that named it (an alias as the spec spells it)."""
    plain = _plain(text)
    best: tuple[int, int, WorkflowSpec, str] | None = None
    for spec in specs.values():
        for word in (spec.name, *spec.aliases):
            m = _pattern(word).search(plain)
            if m is None:
                continue
            rank = (len(_plain(word)), -m.start())
            if best is None or rank > best[:2]:
                best = (*rank, spec, word)
    return (best[2], best[3]) if best else None


def asks(text: str) -> bool:
    """Does the sentence ask for something (要/想/申请/帮我…), rather than just mention a word?"""
    return bool(_ASKING.search(text))
