"""Alembic environment: the engine comes from jembatan.store.migrations, never from a file."""

from __future__ import annotations

from alembic import context

import jembatan.models  # noqa: F401  (registers every capability's tables)
from jembatan.store.schema import Base

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    context.run_migrations()
