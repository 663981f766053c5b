"""Button keys as typed values (aiogram's CallbackData): one class builds a key
for a card template and parses it back for the handler.

A key carries ids only, ``prefix:field:field`` — e.g. ``TaskAction(task_id=12,
action="approve").pack()`` is ``"task:12:approve"``. The strings are exactly
the ones cards carried before these classes existed, so cards already sent keep
working. Templates get every key class as a jinja2 global (see ``bot/render.py``):
``{{ TaskAction(task_id=task.id, action='approve').pack() | tojson }}``.
"""
from __future__ import annotations

import dataclasses
import functools
import typing
from typing import ClassVar, Literal, TypeVar

K = TypeVar("K", bound="ButtonKey")
SEP = ":"


class ButtonKey:
    """Subclass as a frozen dataclass with ``prefix`` and int/str/Literal fields."""

    prefix: ClassVar[str]

    def pack(self) -> str:
        parts = [self.prefix]
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = str(getattr(self, f.name))
            if SEP in value or not value:
                raise ValueError(f"{type(self).__name__}.{f.name} cannot be packed: {value!r}")
            parts.append(value)
        return SEP.join(parts)

    @classmethod
    def unpack(cls: type[K], key: str) -> K | None:
        """The key's value, or None when it is not one of this class's keys (stale, mistyped, tampered)."""
        prefix, *parts = key.split(SEP)
        fields = dataclasses.fields(cls)  # type: ignore[arg-type]
        if prefix != cls.prefix or len(parts) != len(fields):
            return None
        hints = _hints(cls)
        values = {}
        for f, raw in zip(fields, parts):
            value = _parse(hints[f.name], raw)
            if value is None:
                return None
            values[f.name] = value
        return cls(**values)


@functools.cache
def _hints(cls: type) -> dict:
    """A key class's field types, resolved once (``get_type_hints`` costs more than the rest of a tap)."""
    return typing.get_type_hints(cls)


def _parse(kind, raw: str):
    if kind is int:
        return int(raw) if raw.isdigit() else None
    if typing.get_origin(kind) is Literal:
        return raw if raw in typing.get_args(kind) else None
    return raw or None


# ----- the keys cards carry ------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class TaskAction(ButtonKey):
    """同意/驳回/确认/有异议/办结 on a task card; the engine checks the action against the step."""

    prefix: ClassVar[str] = "task"
    task_id: int
    action: str


@dataclasses.dataclass(frozen=True)
class FillForm(ButtonKey):
    """填写 on a form step's card: starts the step's form in chat."""

    prefix: ClassVar[str] = "fill"
    task_id: int


@dataclasses.dataclass(frozen=True)
class NoticeConfirm(ButtonKey):
    """确认收到 on a notice; the run is the notice, the task is the tapper's own."""

    prefix: ClassVar[str] = "notice"
    run_id: int
    action: Literal["confirm"] = "confirm"


@dataclasses.dataclass(frozen=True)
class WindowStart(ButtonKey):
    """启动 on a window-opening reminder."""

    prefix: ClassVar[str] = "window"
    reminder_id: int
    action: Literal["start"] = "start"


@dataclasses.dataclass(frozen=True)
class Resubmit(ButtonKey):
    """重新提交 on a 驳回 card: the request's form again, with its old answers."""

    prefix: ClassVar[str] = "resubmit"
    run_id: int


@dataclasses.dataclass(frozen=True)
class DisputeAction(ButtonKey):
    """已更正/维持 on 教务处's card about a teacher's 有异议."""

    prefix: ClassVar[str] = "dispute"
    dispute_id: int
    action: Literal["correct", "keep"]


CARD_KEYS: tuple[type[ButtonKey], ...] = (TaskAction, FillForm, NoticeConfirm, WindowStart, Resubmit, DisputeAction)
