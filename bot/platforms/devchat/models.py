"""The local chat's own table: what each person's 'phone' shows.

It lives with the platform that owns it; its schema is in the one migration chain
(``models/migrations``, revision 0001), like every table.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow


class DevchatMessage(Base):
    """What the local chat shows: the devchat platform's 'phone'."""

    __tablename__ = "devchat_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    userid: Mapped[str] = mapped_column(String(64), index=True)
    direction: Mapped[str] = mapped_column(String(8))  # in | out
    ref: Mapped[str] = mapped_column(String(255), unique=True)  # "out:<recipient id>" or "in:<dedup key>": idempotent writes
    message: Mapped[dict] = mapped_column(JSON)
    card_task_id: Mapped[str] = mapped_column(String(128), default="", index=True)
    replaced: Mapped[str] = mapped_column(String(32), default="")  # greyed-out button text
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
