"""A running node's shared handles: settings, database, blob store and secret key."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

import jembatan.models  # noqa: F401  (every table registered, so relations always resolve)
from jembatan.config import Settings
from jembatan.errors import ConfigError
from jembatan.node.identity import NODE, Keyring, create_node_keys, key_states, load_keyring
from jembatan.node.models import NodeIdentity, NodeKey
from jembatan.store import migrations
from jembatan.store.blobs import BlobStore
from jembatan.store.db import check_reachable, open_engine, session_factory

SECRET_FILE = "secret.key"  # noqa: S105  (a file name)


def read_secret(settings: Settings) -> bytes:
    if settings.secret_key is not None:
        value = settings.secret_key.get_secret_value().encode()
        if len(value) < 32:
            raise ConfigError("setting JEMBATAN_SECRET_KEY is invalid: use at least 32 characters")
        return value
    path = settings.data_dir / SECRET_FILE
    try:
        return base64.b64decode(path.read_text().strip(), validate=True)
    except FileNotFoundError:
        raise ConfigError(
            f"data folder {settings.data_dir} is not initialised (no {SECRET_FILE}); "
            "run `jembatan init` first"
        ) from None
    except ValueError:
        raise ConfigError(f"{path} is damaged: not base64") from None


@dataclass
class Node:
    settings: Settings
    engine: Engine
    db: sessionmaker[Session]
    blobs: BlobStore
    secret: bytes
    member_id: str = ""
    name: str = ""
    keyring: Keyring | None = None
    extras: dict[str, object] = field(default_factory=dict)

    @classmethod
    def open(cls, settings: Settings, require_current_schema: bool = True) -> Node:
        """Open an initialised data folder; raise one clear error when it cannot serve."""
        if not settings.data_dir.is_dir():
            raise ConfigError(
                f"setting JEMBATAN_DATA_DIR is invalid: {settings.data_dir} does not exist"
            )
        secret = read_secret(settings)
        engine = open_engine(settings.db_url)
        check_reachable(engine)
        if require_current_schema and not migrations.is_current(engine):
            raise ConfigError(
                "database schema is not current; run `jembatan db upgrade` "
                f"(at {migrations.current(engine)}, code expects {migrations.head()})"
            )
        node = cls(settings, engine, session_factory(engine), BlobStore(settings.blob_dir), secret)
        with node.db() as s:
            ident = s.scalar(select(NodeIdentity))
        if ident is None and require_current_schema:
            raise ConfigError("database holds no node identity; run `jembatan init` first")
        if ident is not None:
            node.member_id, node.name = ident.member_id, ident.name
        if settings.key_passphrase is not None and ident is not None:
            node.unlock(settings.key_passphrase.get_secret_value())
        return node

    def unlock(self, passphrase: str) -> Keyring:
        """Open the private keys; a wrong passphrase stops here with a clear error."""
        with self.transaction() as s:
            if s.scalar(select(NodeKey.kid).where(NodeKey.purpose == NODE).limit(1)) is None:
                create_node_keys(s, passphrase)  # a node from before keys existed
        with self.db() as s:
            self.keyring = load_keyring(s, passphrase)
        self.extras["key_states"] = key_states(self)
        return self.keyring

    def sync_keys(self) -> None:
        """Reload the keyring when another process (a CLI command) changed key states."""
        if self.keyring is not None and key_states(self) != self.extras.get("key_states"):
            self.unlock(self.keyring.passphrase)

    def keys(self) -> Keyring:
        if self.keyring is None:
            raise ConfigError(
                "setting JEMBATAN_KEY_PASSPHRASE is missing: the node's private keys are "
                "encrypted under it"
            )
        return self.keyring

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: committed when the block ends, rolled back on any error."""
        with self.db.begin() as session:
            yield session

    def close(self) -> None:
        self.engine.dispose()

    @property
    def data_dir(self) -> Path:
        return self.settings.data_dir
