"""The 课表 as imported: one row per meeting pattern of a term."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow


class TimetableMeeting(Base):
    """A teacher, a course, its classes (合班 share one row), a weekday, periods, weeks and a room.

    ``classes_text`` and ``weeks_text`` are ';'- and ','-joined so one row is one meeting;
    a term is replaced as a whole on re-import.
    """

    __tablename__ = "timetable_meetings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    term: Mapped[str] = mapped_column(String(16), index=True)
    source_row: Mapped[int] = mapped_column(Integer)
    teacher_userid: Mapped[str] = mapped_column(String(64), index=True)
    teacher_name: Mapped[str] = mapped_column(String(64))
    course: Mapped[str] = mapped_column(String(128))
    classes_text: Mapped[str] = mapped_column(String(1024))
    weekday: Mapped[int] = mapped_column(Integer)
    first_period: Mapped[int] = mapped_column(Integer)
    last_period: Mapped[int] = mapped_column(Integer)
    weeks_text: Mapped[str] = mapped_column(String(255))
    room: Mapped[str] = mapped_column(String(64), index=True)
    imported_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    @property
    def classes(self) -> list[str]:
        return [c for c in self.classes_text.split(";") if c]

    @property
    def weeks(self) -> frozenset[int]:
        return frozenset(int(w) for w in self.weeks_text.split(",") if w)
