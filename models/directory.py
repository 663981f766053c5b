"""People, classes and departments, as imported from the school's directory."""
from __future__ import annotations

from datetime import datetime
from functools import lru_cache

from sqlalchemy import Boolean, DateTime, ForeignKey, String, UniqueConstraint, true
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow

ROLES = ("教务处", "教务处分管领导", "系部主任", "教学秘书", "辅导员", "任课教师", "教研室主任")
OFFICE_DEPARTMENT = "教务处"
GENERAL_DEPARTMENT = "通识教育部"


class Person(Base):
    __tablename__ = "people"

    userid: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    department: Mapped[str] = mapped_column(String(64), index=True)
    roles_text: Mapped[str] = mapped_column(String(255), default="")
    classes_text: Mapped[str] = mapped_column(String(1024), default="")
    # False once the platform's 通讯录 no longer lists them (directory sync): no messages, no tasks,
    # but their name stays on the runs and records they had a part in.
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    @property
    def roles(self) -> list[str]:
        return [r for r in self.roles_text.split(";") if r]

    @property
    def classes(self) -> list[str]:
        return [c for c in self.classes_text.split(";") if c]

    def has_role(self, *roles: str) -> bool:
        mine = _role_set(self.roles_text)
        return any(r in mine for r in roles)


@lru_cache(maxsize=1024)
def _role_set(roles_text: str) -> frozenset[str]:
    """A school has a few dozen distinct role lists; 帮助 asks each workflow whether its person may start it."""
    return frozenset(r for r in roles_text.split(";") if r)


class PersonAccount(Base):
    """A person's account on one platform: (platform, account_id) → userid, at most one per platform.

    Inbound updates are mapped through it to our userid; the outbox picks, per recipient, the
    platform of the account they last wrote from (``last_seen_at``), else the first one mounted.
    """

    __tablename__ = "person_accounts"

    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    userid: Mapped[str] = mapped_column(ForeignKey("people.userid", ondelete="CASCADE"), index=True)
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    __table_args__ = (UniqueConstraint("platform", "userid", name="uq_person_accounts_platform_userid"),)


class SchoolClass(Base):
    """A class belongs to its counselor's 系部."""

    __tablename__ = "classes"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    department: Mapped[str] = mapped_column(String(64), index=True)
    counselor_userid: Mapped[str] = mapped_column(String(64))
