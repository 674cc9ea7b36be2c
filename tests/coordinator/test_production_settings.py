"""Outside dev mode the coordinator refuses unsafe settings before it serves anything."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from factories import make_settings
from tensornode.cli.main import app as cli
from tensornode.coordinator.core import Coordinator
from tensornode.errors import ConfigurationError


def _production(tmp_path: Path) -> dict[str, object]:
    return make_settings(tmp_path, f"sqlite:///{tmp_path / 'c.db'}", dev_mode=False).model_dump()


@pytest.mark.parametrize(
    ("section", "field", "value", "words"),
    [
        ("rewards", "pool_account", "0.0.1000", "rewards.pool_account is the dev placeholder"),
        ("rewards", "treasury_account", "0.0.1001", "rewards.treasury_account is the dev"),
        ("validator", "account", "0.0.1002", "validator.account is the dev placeholder 0.0.1002"),
        ("auth", "public_url", None, "auth.public_url is unset"),
        ("coordinator", "allow_local_provider", False, "opt in with TENSORNODE_COORDINATOR__"),
    ],
)
async def test_unsafe_setting_refused_at_start(
    tmp_path: Path, section: str, field: str, value: object, words: str
) -> None:
    data = _production(tmp_path)
    data[section][field] = value  # type: ignore[index]
    settings = type(make_settings(tmp_path, "sqlite://"))(**data)
    core = Coordinator(settings)
    try:
        with pytest.raises(ConfigurationError, match="refusing to start outside dev mode") as err:
            await core.start()
        assert words in err.value.message
        assert not (tmp_path / "c.db").exists()  # refused before the database was touched
    finally:
        await core.close()


async def test_dev_mode_keeps_its_placeholders(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'd.db'}", dev_mode=True)
    assert settings.rewards.pool_account == "0.0.1000"
    assert settings.production_problems() == []


def test_cli_refuses_dev_mode_from_the_environment_on_all_interfaces(tmp_path: Path) -> None:
    env = {"TENSORNODE_DEV_MODE": "true", "TENSORNODE_DATA_DIR": str(tmp_path)}
    result = CliRunner().invoke(cli, ["coordinator", "--host", "0.0.0.0"], env=env)
    assert result.exit_code == 1
    assert "dev mode listens on loopback only, not 0.0.0.0" in result.output


def test_cli_names_the_unsafe_settings_before_serving(tmp_path: Path) -> None:
    env = {"TENSORNODE_DATA_DIR": str(tmp_path)}
    result = CliRunner().invoke(cli, ["coordinator", "--port", "1"], env=env)
    assert result.exit_code == 1
    assert "refusing to start outside dev mode" in result.output
    assert "rewards.pool_account is the dev placeholder 0.0.1000" in result.output
    assert not (tmp_path / "tensornode.db").exists()
