"""Runs of handbook workflows, their tasks, files and audit trail (viewflow's task rows)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow


class Run(Base):
    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(16), index=True)  # spec code, or "notice"
    flow_id: Mapped[str] = mapped_column(String(64), default="main")
    title: Mapped[str] = mapped_column(String(255))
    # open | done | rejected | cancelled
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    started_by: Mapped[str] = mapped_column(String(64))
    # Accountable owner: the office (owner_role, the spec's owner) and, when one of its staff started
    # the run, that person (owner_userid). A run a teacher or 系部 started is the office's as a whole.
    owner_userid: Mapped[str] = mapped_column(String(64), default="")
    owner_role: Mapped[str] = mapped_column(String(32), default="教务处", server_default="教务处")
    subject_department: Mapped[str] = mapped_column(String(64), default="")
    departments: Mapped[list] = mapped_column(JSON, default=list)  # the 系部 this run fans out to
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    step_index: Mapped[int] = mapped_column(Integer, default=0)
    record_no: Mapped[str] = mapped_column(String(32), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class Task(Base):
    """One person's part of one step. Decisions apply by compare-and-set on status."""

    __tablename__ = "tasks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), index=True)
    step_index: Mapped[int] = mapped_column(Integer)
    step_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    group: Mapped[str] = mapped_column(String(64))  # a 系部, 教务处, or a person for individual duties
    department: Mapped[str] = mapped_column(String(64), default="")
    assignee: Mapped[str] = mapped_column(String(64), index=True)
    # open | done | rejected | superseded | skipped | cancelled
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    result: Mapped[dict] = mapped_column(JSON, default=dict)
    acted_by: Mapped[str] = mapped_column(String(64), default="")
    acted_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    due_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (Index("ix_tasks_run_step", "run_id", "step_index"),
                      Index("ix_tasks_assignee_run", "assignee", "run_id"))


class AuditEntry(Base):
    __tablename__ = "audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"), nullable=True, index=True)
    task_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class StoredFile(Base):
    """An uploaded file; resubmitting adds a row, so the history stays."""

    __tablename__ = "files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"), nullable=True, index=True)
    task_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    step_id: Mapped[str] = mapped_column(String(64), default="")
    userid: Mapped[str] = mapped_column(String(64))
    department: Mapped[str] = mapped_column(String(64), default="")
    filename: Mapped[str] = mapped_column(String(255))
    path: Mapped[str] = mapped_column(String(1024))
    size: Mapped[int] = mapped_column(Integer)
    content_type: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Reminder(Base):
    """A reminder due at a time; the scheduler claims and sends each row once."""

    __tablename__ = "reminders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(255), unique=True)  # what makes it unique, e.g. open:1.1:2026-09-01
    kind: Mapped[str] = mapped_column(String(32))  # window_open | deadline | overdue | digest
    due_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | claimed | sent | skipped
    claimed_by: Mapped[str] = mapped_column(String(64), default="")
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")


class Dispute(Base):
    """A person's 有异议 on a confirm step with ``disputes: thread``, until 教务处 settles it.

    教务处 decides by compare-and-set on ``status`` (open → corrected | kept)."""

    __tablename__ = "disputes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), index=True)
    task_id: Mapped[int] = mapped_column(Integer, index=True)  # the disputed task
    userid: Mapped[str] = mapped_column(String(64))  # who disputed
    reason: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)  # open | corrected | kept
    answer: Mapped[str] = mapped_column(Text, default="")  # the corrected figure, or why it stays
    decided_by: Mapped[str] = mapped_column(String(64), default="")
    decided_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class CardCopy(Base):
    """One delivered copy of a card with buttons, so it can be updated when its subject is settled.

    ``subject`` is what the card is about ("task:12", "dispute:3"); ``ref`` is the platform's handle
    on that copy (WeCom's response_code, DingTalk's outTrackId, the local chat's card id)."""

    __tablename__ = "card_copies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject: Mapped[str] = mapped_column(String(64), index=True)
    userid: Mapped[str] = mapped_column(String(64))
    platform: Mapped[str] = mapped_column(String(32))
    ref: Mapped[str] = mapped_column(String(255))
    outbox_id: Mapped[int] = mapped_column(Integer)
    card_id: Mapped[str] = mapped_column(String(128), default="")
    settled: Mapped[str] = mapped_column(String(128), default="")  # the final state it was updated to
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
