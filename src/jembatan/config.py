"""Settings of one node: environment (JEMBATAN_*) over the data folder's config file."""

from __future__ import annotations

import os
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from jembatan.errors import ConfigError

CONFIG_FILE = "jembatan.toml"
ENV_PREFIX = "JEMBATAN_"

_config_file: ContextVar[Path | None] = ContextVar("_config_file", default=None)


class _ConfigFileSource(PydanticBaseSettingsSource):
    """Values from the data folder's `jembatan.toml`; below the environment in priority."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)
        path = _config_file.get()
        self._values: dict[str, Any] = {}
        if path is not None and path.is_file():
            try:
                self._values = tomllib.loads(path.read_text(encoding="utf-8"))
            except tomllib.TOMLDecodeError as exc:
                raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
            unknown = sorted(set(self._values) - set(settings_cls.model_fields))
            if unknown:
                raise ConfigError(f"config file {path}: unknown setting {unknown[0]!r}")

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self._values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._values)


class Settings(BaseSettings):
    """Every setting can be given as JEMBATAN_<NAME> or as `name = ...` in jembatan.toml."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    data_dir: Path
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: SQLite file in the data folder"
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    public_url: str | None = Field(default=None, description="URL other nodes use to reach us")
    tls_cert: Path | None = None
    tls_key: Path | None = None
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["json", "console"] = "json"
    default_language: Literal["en", "id"] = "en"
    require_two_factor: bool = Field(
        default=True, description="Officials must enrol TOTP before using the portal"
    )
    login_max_failures: int = Field(default=5, ge=1, le=100)
    lockout_minutes: int = Field(default=15, ge=1, le=24 * 60)
    login_ip_limit_per_minute: int = Field(default=30, ge=1)
    session_hours: int = Field(default=8, ge=1, le=24 * 14)
    session_idle_minutes: int = Field(default=60, ge=5, le=24 * 60)
    key_passphrase: SecretStr | None = Field(
        default=None, description="Opens the node's private keys (else asked for at start)"
    )
    directory_refresh_seconds: int = Field(
        default=300, ge=5, description="How often the node fetches the member directory"
    )
    directory_validity_hours: int = Field(
        default=24, ge=1, le=24 * 30, description="Registry role: how long a directory is valid"
    )
    key_overlap_hours: int = Field(
        default=72, ge=1, description="After a key rotation, how long the old keys still verify"
    )
    # Comma-separated in the environment (admin,officer), a list in jembatan.toml.
    agreement_signer_roles: Annotated[list[str], NoDecode] = Field(
        default=["admin"],
        description="Roles that may draft, sign, suspend and revoke agreements",
    )
    ledger_checkpoint_seconds: int = Field(
        default=2, ge=1, le=3600, description="Least time between two ledger checkpoints"
    )
    ledger_witness_seconds: int = Field(
        default=10, ge=1, le=86400, description="How often the node witnesses its peers' ledgers"
    )
    signature_max_age_seconds: int = Field(
        default=300, ge=10, le=3600, description="Oldest signed node-to-node request accepted"
    )
    max_message_bytes: int = Field(
        default=64 * 1024 * 1024,
        ge=1024,
        le=128 * 1024 * 1024,
        description="Largest message payload accepted (at most 128 MiB)",
    )
    max_transfer_bytes: int = Field(
        default=10 * 1024**3, ge=1024, description="Largest file accepted by streamed transfer"
    )
    gateway_timeout_seconds: int = Field(
        default=120, ge=1, le=3600, description="Longest a gateway call may wait for its answer"
    )
    gateway_max_body_bytes: int = Field(
        default=4 * 1024**3, ge=1024, description="Largest request or answer body a call carries"
    )
    health_method: str = Field(
        default="farrington",
        pattern=r"^(ears-c1|ears-c2|ears-c3|farrington)$",
        description="Outbreak detection method the node runs on its own series",
    )
    health_recent_weeks: int = Field(
        default=4, ge=1, le=104, description="Weeks at the end of each series checked for alarms"
    )
    smtp_host: str | None = Field(
        default=None, description="Mail server for e-mail notifications (none: portal only)"
    )
    smtp_port: int = Field(default=587, ge=1, le=65535, description="Mail server port")
    smtp_starttls: bool = Field(default=True, description="Upgrade the mail connection to TLS")
    smtp_username: str | None = Field(default=None, description="Mail server login")
    smtp_password: SecretStr | None = Field(default=None, description="Mail server password")
    smtp_from: str = Field(
        default="jembatan@localhost", description="Sender address of notification e-mails"
    )
    secret_key: SecretStr | None = Field(
        default=None, description="Signs cookies; default: the data folder's secret.key"
    )

    @field_validator("agreement_signer_roles", mode="before")
    @classmethod
    def _roles(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        roles = {"admin", "officer", "analyst", "auditor"}
        if isinstance(value, list) and any(v not in roles for v in value):
            raise ValueError(f"roles must be among {', '.join(sorted(roles))}")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _ConfigFileSource(settings_cls))

    @property
    def config_file(self) -> Path:
        return self.data_dir / CONFIG_FILE

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'jembatan.db'}"

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        scheme = "https" if self.tls_cert else "http"
        return f"{scheme}://{self.host}:{self.port}"


def _env_name(loc: tuple[int | str, ...]) -> str:
    return ENV_PREFIX + str(loc[0]).upper() if loc else ENV_PREFIX + "?"


def load_settings(data_dir: Path | str | None = None, **overrides: Any) -> Settings:
    """Load settings for a data folder; a bad or missing value raises one clear ConfigError."""
    values = {k: v for k, v in overrides.items() if v is not None}
    if data_dir is not None:
        values["data_dir"] = Path(data_dir)
    else:
        env_dir = os.environ.get(ENV_PREFIX + "DATA_DIR")
        if not env_dir:
            raise ConfigError(
                "setting JEMBATAN_DATA_DIR is missing: pass --data-dir or set JEMBATAN_DATA_DIR"
            )
        values["data_dir"] = Path(env_dir)
    token = _config_file.set(Path(values["data_dir"]) / CONFIG_FILE)
    try:
        return Settings(**values)
    except ValidationError as exc:
        err = exc.errors()[0]
        name = _env_name(err["loc"])
        got = err.get("input")
        shown = "" if isinstance(got, dict) or got is None else f" (got {str(got)[:60]!r})"
        raise ConfigError(f"setting {name} is invalid: {err['msg']}{shown}") from None
    finally:
        _config_file.reset(token)


def write_config_file(path: Path, values: dict[str, str | int | bool]) -> None:
    """Write a flat TOML file of settings (strings, integers, booleans only)."""
    lines = [
        "# Jembatan node settings. JEMBATAN_<NAME> environment variables override these.",
        "# See docs/operations.md for every setting.",
    ]
    for key, value in values.items():
        if isinstance(value, bool):
            rendered = "true" if value else "false"
        elif isinstance(value, int):
            rendered = str(value)
        else:
            rendered = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
        lines.append(f"{key} = {rendered}")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
