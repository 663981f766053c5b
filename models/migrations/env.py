"""Alembic environment: runs on the connection the app hands it (see bot/db.py)."""
from alembic import context

from models import Base

target_metadata = Base.metadata


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """A platform's own tables (e.g. bot/platforms/devchat/models.py) are defined in its folder, not
    on this metadata; autogenerate must not propose dropping them. Their migrations are in this chain."""
    return not (type_ == "table" and reflected and compare_to is None)


def run() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through 'campusbot db upgrade'")
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True,
                      include_object=include_object)
    with context.begin_transaction():
        context.run_migrations()


run()
