"""``tensornode hedera ...`` and ``epoch verify --hedera`` refuse bad settings in one line."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from tensornode.cli.main import app


@pytest.fixture(autouse=True)
def logging_restored() -> Iterator[None]:
    """The CLI points logging at the runner's stream, closed after each run: undo that."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["hedera", "init"], {}, "set TENSORNODE_HEDERA__OPERATOR_ID"),
        (
            ["hedera", "init"],
            {"TENSORNODE_HEDERA__OPERATOR_ID": "0.0.5"},
            "set TENSORNODE_HEDERA__OPERATOR_KEY or TENSORNODE_HEDERA__OPERATOR_KEY_FILE",
        ),
        (
            ["hedera", "register-validator", "3", "--rounds", "2"],
            {"TENSORNODE_HEDERA__OPERATOR_ID": "0.0.5", "TENSORNODE_HEDERA__OPERATOR_KEY": "zz"},
            "the Hedera operator key is not a private key",
        ),
        (
            ["hedera", "balance", "0.0.5"],
            {
                "TENSORNODE_HEDERA__NETWORK": "custom",
                "TENSORNODE_HEDERA__NODES": '{"127.0.0.1:1": "0.0.3"}',
            },
            "a custom Hedera network needs TENSORNODE_HEDERA__MIRROR_URL",
        ),
        (["hedera", "balance", "alice"], {}, "account must be a Hedera account id"),
        (["epoch", "verify", "3", "--hedera"], {}, "set TENSORNODE_HEDERA__TOPIC_ID"),
    ],
)
def test_bad_settings_are_one_line_errors(
    args: list[str], env: dict[str, str], message: str
) -> None:
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output
