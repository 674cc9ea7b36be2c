"""``tensornode wallet`` against a real dev-mode coordinator served on loopback."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from typer.testing import CliRunner, Result

from tensornode.cli.main import app


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


class Cli:
    def __init__(self, data_dir: Path, db_url: str, url: str) -> None:
        self.env = {"TENSORNODE_DATA_DIR": str(data_dir), "TENSORNODE_DATABASE_URL": db_url}
        self.url = url

    def __call__(self, *args: str, remote: bool = True) -> Result:
        extra = ["--coordinator", self.url] if remote else []
        return CliRunner().invoke(app, [*args, *extra], env=self.env)


def test_wallet_create_show_sign_in_and_use_the_session(
    coordinator: tuple[str, str], tmp_path: Path
) -> None:
    url, db_url = coordinator
    data_dir = tmp_path / "me"
    cli = Cli(data_dir, db_url, url)

    created = cli("wallet", "create")
    assert created.exit_code == 0, created.output
    key_file = data_dir / "wallet" / "key.json"
    stored = json.loads(key_file.read_text())
    account = stored["accountId"]
    assert f"wallet created: account {account} (ed25519)" in created.output
    assert "funded: 10000000000 tinybar (balance 10000000000)" in created.output
    assert (_mode(key_file), _mode(key_file.parent)) == (0o600, 0o700)
    private = stored["privateKey"]
    assert private not in created.output

    shown = cli("wallet", "show", remote=False)
    assert shown.exit_code == 0 and f"accountId: {account}" in shown.output
    assert private not in shown.output
    revealed = cli("wallet", "show", "--show-private", "--json", remote=False)
    assert json.loads(revealed.output)["privateKey"] == private

    again = cli("wallet", "create")
    assert again.exit_code == 1 and "a wallet already exists for account" in again.output

    balance = cli("wallet", "balance", remote=False)
    assert (balance.exit_code, balance.output.strip()) == (0, "10000000000 tinybar")

    # without a session a dev coordinator wants a bare wallet address
    anonymous = cli("vm", "ls")
    assert anonymous.exit_code == 1 and "walletAddress required" in anonymous.output

    signed_in = cli("wallet", "sign-in")
    assert signed_in.exit_code == 0, signed_in.output
    assert f"signed in to {url} as {account}" in signed_in.output
    session_file = data_dir / "wallet" / "session.json"
    assert _mode(session_file) == 0o600
    assert private not in signed_in.output

    listed = cli("vm", "ls")  # the stored session is the bearer now
    assert listed.exit_code == 0, listed.output
    assert "no VMs" in listed.output

    out = cli("wallet", "sign-out", remote=False)
    assert out.exit_code == 0 and "signed out" in out.output
    assert not session_file.exists()
    assert cli("vm", "ls").exit_code == 1


def test_key_files_readable_by_others_are_refused(
    coordinator: tuple[str, str], tmp_path: Path
) -> None:
    url, db_url = coordinator
    data_dir = tmp_path / "lax"
    cli = Cli(data_dir, db_url, url)
    assert cli("wallet", "create", "--key-type", "ecdsa").exit_code == 0
    key_file = data_dir / "wallet" / "key.json"
    key_file.chmod(0o644)
    shown = cli("wallet", "show", remote=False)
    assert shown.exit_code == 1
    assert f"{key_file} has mode 0644: others may read it; run chmod 600" in " ".join(
        shown.output.split()
    )
    key_file.chmod(0o600)
    key_file.parent.chmod(0o755)
    folder = cli("wallet", "sign-in")
    assert folder.exit_code == 1
    assert "has mode 0755: others may read it; run chmod 700" in " ".join(folder.output.split())
    key_file.parent.chmod(0o700)
    signed_in = cli("wallet", "sign-in")
    assert signed_in.exit_code == 0, signed_in.output
    assert json.loads(key_file.read_text())["keyType"] == "ecdsa_secp256k1"
