"""Inbound updates, per-user leases, conversations and the outbox."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, orm_insert_sentinel

from models.base import Base, utcnow


class Inbound(Base):
    """Every accepted update, stored before it is acknowledged.

    The unique dedup key makes a platform retry a no-op, across restarts too.
    """

    __tablename__ = "inbound"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dedup_key: Mapped[str] = mapped_column(String(255), unique=True)
    userid: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | done | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    __table_args__ = (Index("ix_inbound_status_user", "status", "userid", "id"),
                      Index("ix_inbound_status_id", "status", "id"))


class UserLease(Base):
    """Who may process a user's updates right now: one process, one update at a time."""

    __tablename__ = "user_leases"

    userid: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(DateTime)


class Worker(Base):
    """A running process; its claims and leases count only while ``last_seen`` is fresh."""

    __tablename__ = "workers"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    host: Mapped[str] = mapped_column(String(255), default="")
    pid: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Conversation(Base):
    """Where a person is in a multi-turn dialogue; written on every update."""

    __tablename__ = "conversations"

    userid: Mapped[str] = mapped_column(String(64), primary_key=True)
    handler: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(64), default="")
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class OutboxMessage(Base):
    """One rendered message, written in the same transaction as the change that caused it."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    message: Mapped[dict] = mapped_column(JSON)
    # What makes a repeat of the same words to the same person a distinct request (see bot.outbox).
    body_hash: Mapped[str] = mapped_column(String(64), default="", index=True)
    variant: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # Filled by SQLAlchemy per row of a bulk insert, so a batch's rows come back with their ids in order
    # on SQLite too (whose RETURNING has no order): without it each reply was an INSERT of its own.
    _sentinel: Mapped[int | None] = orm_insert_sentinel()


class OutboxRecipient(Base):
    """Delivery state per recipient, so a crash mid-broadcast resumes with nobody skipped."""

    __tablename__ = "outbox_recipients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id"), index=True)
    userid: Mapped[str] = mapped_column(String(64))
    # pending | sending | sent | invalid | failed
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    claimed_by: Mapped[str] = mapped_column(String(64), default="")  # the claim's token
    worker: Mapped[str] = mapped_column(String(64), default="")  # the process holding the claim
    # Fixed on the first claim: a resend goes to exactly the same people in the same order.
    batch: Mapped[str] = mapped_column(String(64), default="", index=True)
    # The platform this recipient is sent through, fixed with the batch (a batch is one platform's);
    # "" until then. ``account_id`` is set only for an answer to an account that is nobody (a stranger).
    platform: Mapped[str] = mapped_column(String(16), default="")
    account_id: Mapped[str] = mapped_column(String(64), default="")
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    error: Mapped[str] = mapped_column(Text, default="")
    # What the platform answered for the sent message (opaque; WeCom: msgid and response_code), for a recall.
    platform_ref: Mapped[str] = mapped_column(String(255), default="", server_default="")

    __table_args__ = (Index("ix_outbox_recipients_due", "status", "next_attempt_at"),
                      Index("ix_outbox_recipients_user", "userid", "outbox_id"))

