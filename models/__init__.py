"""SQLAlchemy models; importing this package registers every table on ``Base.metadata``."""
from models.base import Base, utcnow
from models.directory import GENERAL_DEPARTMENT, OFFICE_DEPARTMENT, ROLES, Person, SchoolClass
from models.messaging import (
    Conversation, DevchatMessage, Inbound, OutboxMessage, OutboxRecipient, UserLease, Worker,
)
from models.timetable import TimetableMeeting
from models.workflow import AuditEntry, Reminder, Run, StoredFile, Task

__all__ = [
    "Base", "utcnow", "Person", "SchoolClass", "ROLES", "OFFICE_DEPARTMENT", "GENERAL_DEPARTMENT",
    "Conversation", "DevchatMessage", "Inbound", "OutboxMessage", "OutboxRecipient", "UserLease", "Worker",
    "AuditEntry", "Reminder", "Run", "StoredFile", "Task", "TimetableMeeting",
]
