"""Reminders: the working time, the planner, the sender with one function per kind, and the
service a BotCore owns (``core.reminders``) that runs them on one APScheduler job."""
