from __future__ import annotations

from pathlib import Path

import pytest

from jembatan.config import load_settings
from jembatan.errors import ConfigError, Unavailable
from jembatan.store.db import check_reachable, open_engine


def test_bad_value_names_the_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JEMBATAN_PORT", "eighty")
    with pytest.raises(ConfigError) as err:
        load_settings(tmp_path)
    assert str(err.value).startswith("setting JEMBATAN_PORT is invalid")
    assert "eighty" in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_data_dir_names_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JEMBATAN_DATA_DIR", raising=False)
    with pytest.raises(ConfigError, match="setting JEMBATAN_DATA_DIR is missing"):
        load_settings(None)


def test_environment_overrides_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "jembatan.toml").write_text('port = 9000\nhost = "127.0.0.1"\n')
    assert load_settings(tmp_path).port == 9000
    monkeypatch.setenv("JEMBATAN_PORT", "9100")
    assert load_settings(tmp_path).port == 9100


def test_unknown_and_broken_config_file_entries(tmp_path: Path) -> None:
    (tmp_path / "jembatan.toml").write_text("prot = 9000\n")
    with pytest.raises(ConfigError, match="unknown setting 'prot'"):
        load_settings(tmp_path)
    (tmp_path / "jembatan.toml").write_text("port = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(tmp_path)


def test_unsupported_database_url() -> None:
    with pytest.raises(ConfigError, match="JEMBATAN_DATABASE_URL is invalid"):
        open_engine("mysql://root@localhost/x")
    with pytest.raises(ConfigError, match="JEMBATAN_DATABASE_URL is invalid"):
        open_engine("not a url")


def test_unreachable_database_is_one_clear_line() -> None:
    engine = open_engine("postgresql://jembatan:hunter22@127.0.0.1:1/nowhere")
    with pytest.raises(Unavailable) as err:
        check_reachable(engine)
    message = str(err.value)
    assert message.startswith(
        "database unreachable at postgresql+psycopg://jembatan:***@127.0.0.1:1"
    )
    assert "hunter22" not in message
    assert "\n" not in message
