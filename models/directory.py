"""People, classes and departments, as imported from the school's directory."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, String
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
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    @property
    def roles(self) -> list[str]:
        return [r for r in self.roles_text.split(";") if r]

    @property
    def classes(self) -> list[str]:
        return [c for c in self.classes_text.split(";") if c]

    def has_role(self, *roles: str) -> bool:
        mine = set(self.roles)
        return any(r in mine for r in roles)


class SchoolClass(Base):
    """A class belongs to its counselor's 系部."""

    __tablename__ = "classes"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    department: Mapped[str] = mapped_column(String(64), index=True)
    counselor_userid: Mapped[str] = mapped_column(String(64))
