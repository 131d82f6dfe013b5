"""Engine and transactions. SQLite runs in WAL mode with foreign keys on."""

from __future__ import annotations

from typing import Any

from sqlalchemy import create_engine, event, make_url, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from jembatan.errors import ConfigError, Unavailable

SQLITE_BUSY_MS = 10000  # how long a write waits for another writer's lock
SQLITE_CHECKPOINT_PAGES = 1000  # SQLite's default: a commit past this log size checkpoints


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def safe_url(url: str) -> str:
    """The URL with any password hidden, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable URL>"


def open_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError("setting JEMBATAN_DATABASE_URL is invalid: not a database URL") from None
    if parsed.get_backend_name() == "sqlite":
        # Connections are kept, not opened per burst: each new one costs a connect and the
        # pragmas below (the gateway's concurrent calls showed it).
        engine = create_engine(
            parsed,
            connect_args={"check_same_thread": False},
            pool_size=20,
            max_overflow=20,
            pool_use_lifo=True,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.get_backend_name() != "postgresql":
        raise ConfigError(
            f"setting JEMBATAN_DATABASE_URL is invalid: {parsed.get_backend_name()!r} "
            "is not supported (use sqlite or postgresql+psycopg)"
        )
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return create_engine(parsed, pool_pre_ping=True, pool_size=10, max_overflow=10)


def check_reachable(engine: Engine) -> None:
    """Raise Unavailable with one clear line when the database does not answer."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise Unavailable(
            f"database unreachable at {safe_url(engine.url.render_as_string())}: {reason}"
        ) from None


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
