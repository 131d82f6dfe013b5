"""Alembic environment: the engine comes from jembatan.store.migrations, never from a file."""

from __future__ import annotations

from alembic import context

import jembatan.models  # noqa: F401  (registers every capability's tables)
from jembatan.store.schema import Base

engine = context.config.attributes["engine"]


def include_object(
    obj: object, name: str | None, kind: str, reflected: bool, other: object
) -> bool:
    """Search indexes the engines build themselves (SQLite FTS5 tables) are not models."""
    return not (kind == "table" and name is not None and name.startswith("workspace_texts_fts"))


with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=include_object,
    )
    context.run_migrations()
