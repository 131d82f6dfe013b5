"""Creating a node's data folder and database: `jembatan init`."""

from __future__ import annotations

import base64
import os
import shutil
from pathlib import Path

from sqlalchemy import make_url, select

from jembatan.config import CONFIG_FILE, Settings, write_config_file
from jembatan.errors import Conflict, InvalidInput
from jembatan.identifiers import MemberId
from jembatan.node.context import SECRET_FILE
from jembatan.node.identity import create_node_keys
from jembatan.node.models import NodeIdentity
from jembatan.store import migrations
from jembatan.store.db import check_reachable, open_engine, session_factory


def init_node(
    settings: Settings,
    member: str,
    name: str,
    passphrase: str,
    config: dict[str, str | int | bool] | None = None,
) -> MemberId:
    """Create the data folder, its secret key, config file and database schema.

    Refuses a folder or database that already holds a node; on failure leaves nothing behind.
    """
    member_id = MemberId.parse(member)
    name = name.strip()
    if not name or len(name) > 300:
        raise InvalidInput("--name must be 1 to 300 characters")
    if len(passphrase) < 8:
        raise InvalidInput("the key passphrase must be at least 8 characters")
    data_dir = settings.data_dir
    if (data_dir / CONFIG_FILE).exists() or (data_dir / SECRET_FILE).exists():
        raise Conflict(
            "data folder {dir} is already initialised; refusing to overwrite it", dir=data_dir
        )
    created_dir = not data_dir.exists()
    data_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    engine = open_engine(settings.db_url)
    try:
        check_reachable(engine)
        with session_factory(engine)() as s:
            existing = None
            if migrations.current(engine) is not None:
                existing = s.scalar(select(NodeIdentity))
        if existing is not None:
            raise Conflict(
                "the database already holds node {member}; refusing to initialise",
                member=existing.member_id,
            )
        migrations.upgrade(engine)
        with session_factory(engine).begin() as s:
            s.add(NodeIdentity(id=1, member_id=str(member_id), name=name))
            create_node_keys(s, passphrase)
        secret_path = data_dir / SECRET_FILE
        fd = os.open(secret_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        written.append(secret_path)
        with os.fdopen(fd, "w") as f:
            f.write(base64.b64encode(os.urandom(32)).decode() + "\n")
        cfg = {"port": settings.port, "host": settings.host, **(config or {})}
        if (
            settings.database_url
            and "database_url" not in cfg
            and make_url(settings.database_url).password is None
        ):
            # A URL with a password stays in the environment, never in a file.
            cfg["database_url"] = settings.database_url
        config_path = data_dir / CONFIG_FILE
        write_config_file(config_path, cfg)
        written.append(config_path)
        (data_dir / "blobs").mkdir(exist_ok=True)
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        if created_dir:
            shutil.rmtree(data_dir, ignore_errors=True)
        raise
    finally:
        engine.dispose()
    return member_id
