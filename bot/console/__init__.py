"""The 教务处 console at ``/console``: a PC page of the whole term, every run and file."""
from bot.console.routes import setup_console

__all__ = ["setup_console"]
