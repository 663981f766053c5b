"""The engine as the runtime runs it: :class:`workflow.engine.Engine` over the core's
specs and clock, telling people through the outbox (``bot/notify.py``).

Step hooks and handlers get this engine, so they also reach what only the runtime
has: the core (settings, renderer), the signed links and the card-update reply.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from bot.notify import OutboxNotifier
from bot.outbound import OutboundMessage
from models import Run, Task
from workflow.engine import Engine
from workflow.hooks import HookRegistry

if TYPE_CHECKING:
    from bot.core import BotCore


class BotEngine(Engine):
    notifier: OutboxNotifier

    def __init__(self, core: "BotCore", hooks: HookRegistry | None = None):
        self.core = core
        # The core's specs and clock are read on each use: tests swap them on a running core.
        super().__init__(specs=lambda: core.specs, clock=lambda: core.clock(), notifier=OutboxNotifier(core),
                         hooks=hooks)

    def upload_url(self, task: Task) -> str:
        return self.notifier.upload_url(task)

    def record_url(self, run: Run, userid: str) -> str:
        return self.notifier.record_url(run, userid)

    def card_update(self, reply_ref: str, action: str, label: str = "") -> OutboundMessage:
        """The reply that greys out a tapped card, naming what was done (the step's own word, if any)."""
        return OutboundMessage(kind="card_update", reply_ref=reply_ref,
                               replace_name=self.core.renderer.text("task/replace_name.j2", action=action,
                                                                    label=label))
