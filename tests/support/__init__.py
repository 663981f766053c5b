"""Shared test support: things tests use that the bot itself never does."""
