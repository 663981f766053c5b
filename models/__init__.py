"""SQLAlchemy models; importing this package registers every table on ``Base.metadata``."""
from models.base import Base, utcnow
from models.counters import Counter, next_number
from models.directory import GENERAL_DEPARTMENT, OFFICE_DEPARTMENT, ROLES, Person, PersonAccount, SchoolClass
from models.messaging import (
    Conversation, Inbound, OutboxMessage, OutboxRecipient, UserLease, Worker,
)
from models.timetable import TimetableMeeting
from models.workflow import AuditEntry, CardCopy, Dispute, Reminder, Run, StoredFile, Task

__all__ = [
    "Base", "utcnow", "Counter", "next_number", "Person", "PersonAccount", "SchoolClass", "ROLES", "OFFICE_DEPARTMENT", "GENERAL_DEPARTMENT",
    "Conversation", "Inbound", "OutboxMessage", "OutboxRecipient", "UserLease", "Worker",
    "AuditEntry", "CardCopy", "Dispute", "Reminder", "Run", "StoredFile", "Task", "TimetableMeeting",
]
