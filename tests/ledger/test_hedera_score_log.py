"""The HCS score log end to end: ``tensornode hedera init`` makes the topic, validators
register, epochs settle on the fake network and publish, ``tensornode epoch verify N
--hedera`` checks the chain and the transfers (and catches a ledger that disagrees)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hiero_sdk_python.crypto.private_key import PrivateKey
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from typer.testing import CliRunner

from epochs.scores import miner
from loopback import ThreadedServer
from tensornode.cli.main import app
from tensornode.config import RewardsSettings
from tensornode.db.session import migrate
from tensornode.epochs.clock import epoch_window
from tensornode.epochs.service import EpochInputs, EpochService
from tensornode.epochs.settle import load_report
from tensornode.errors import LedgerError
from tensornode.ledger.database import session_factory, sync_engine
from tensornode.ledger.hedera.ledger import HederaLedger
from tensornode.ledger.hedera.mirror import MirrorNode
from tensornode.ledger.hedera.operator import Operator
from tensornode.ledger.hedera.score_log import (
    MAX_MESSAGE_BYTES,
    EpochMessage,
    EpochRegistrar,
    ScoreLog,
    decode,
)

from .hedera_network import OPERATOR, Network

TREASURY = "0.0.1001"
ALICE, BOB, VAL_A, VAL_B = "0.0.2001", "0.0.2002", "0.0.3001", "0.0.3002"
EPOCH = 5


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    url = f"sqlite:///{tmp_path / 'coordinator.db'}"
    migrate(make_url(url))
    engine = sync_engine(url)
    yield session_factory(engine)
    engine.dispose()


@pytest.fixture
def reports_url(sessions: sessionmaker[Session]) -> Iterator[str]:
    async def report(request: Request) -> Response:
        found = load_report(sessions, int(request.path_params["n"]))
        if found is None:
            return JSONResponse({"error": "not settled"}, status_code=404)
        return Response(found.canonical(), media_type="application/json")

    server = ThreadedServer(Starlette(routes=[Route("/epochs/{n:int}", report)]))
    server.start()
    yield server.url
    server.stop()


def env(network: Network, **more: str) -> dict[str, str]:
    settings = network.settings()
    return {
        "TENSORNODE_HEDERA__NETWORK": "custom",
        "TENSORNODE_HEDERA__NODES": json.dumps(settings.nodes),
        "TENSORNODE_HEDERA__MIRROR_URL": network.mirror_url,
        "TENSORNODE_HEDERA__OPERATOR_ID": OPERATOR,
        "TENSORNODE_HEDERA__OPERATOR_KEY": network.operator_key.to_string_der(),
        **more,
    }


def cli(args: list[str], environment: dict[str, str]) -> Any:
    """Run the CLI; its logging set-up (a handler on the runner's stream) is undone after."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        return CliRunner().invoke(app, args, env=environment)
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def score_log(network: Network, account: str, key: Any, topic: str) -> ScoreLog:
    settings = network.settings(topic_id=topic, report_url="https://coordinator.example")
    return ScoreLog(settings, Operator(account, key), MirrorNode(network.mirror_url))


def test_epochs_publish_a_verifiable_chain_and_only_registered_validators_are_paid(
    network: Network, hedera_db: Any, sessions: sessionmaker[Session], reports_url: str
) -> None:
    keys = {a: network.add_payee(a) for a in (TREASURY, ALICE, BOB, VAL_A, VAL_B)}
    for validator in (VAL_A, VAL_B):
        network.node.accounts[validator].balance = 10**9  # it pays its own messages' fees
    made = cli(["hedera", "init", "--validator", VAL_A], env(network))
    assert made.exit_code == 0, made.output
    topic = made.output.split()[1]
    assert f"export TENSORNODE_HEDERA__TOPIC_ID={topic}" in made.output

    validator_log = score_log(network, VAL_A, keys[VAL_A], topic)
    outsider_log = score_log(network, VAL_B, keys[VAL_B], topic)
    coordinator_log = score_log(network, OPERATOR, network.operator_key, topic)
    ledger = HederaLedger(network.settings(), sessions)
    try:
        for epoch in (EPOCH, EPOCH + 1):
            validator_log.register_validator(epoch, rounds=3)
        with pytest.raises(LedgerError, match="INVALID_SIGNATURE"):
            outsider_log.register_validator(EPOCH, rounds=3)  # not a key of the topic
        coordinator_log._submit(  # the coordinator cannot register someone else
            b'{"epoch":5,"kind":"validator","rounds":9,"v":1,"validator":"0.0.3002"}', "forge"
        )
        rewards = RewardsSettings(
            emission_per_epoch=1_000_003,
            pool_account=OPERATOR,
            treasury_account=TREASURY,
            epoch_seconds=600,
        )
        inputs = EpochInputs([miner("m-a", ALICE, 0.9), miner("m-b", BOB, 0.4)], [VAL_A, VAL_B])
        service = EpochService(sessions, ledger, rewards, lambda w: inputs, coordinator_log)
        start = epoch_window(EPOCH + 1, 600).starts_at
        service.settle_due(start + timedelta(seconds=1))
        service.settle_due(start + timedelta(seconds=601))
    finally:
        for closable in (validator_log, outsider_log, coordinator_log, ledger):
            closable.close()

    report = load_report(sessions, EPOCH + 1)
    assert report is not None and report.validators == [VAL_A]  # VAL_B never registered
    mirror = MirrorNode(network.mirror_url)
    published = [decode(m) for m in mirror.topic_messages(topic)]
    mirror.close()
    epochs = [m for m in published if isinstance(m, EpochMessage)]
    assert [(m.epoch, m.previous_epoch) for m in epochs] == [(EPOCH, None), (EPOCH + 1, EPOCH)]
    assert epochs[1].report == report.hash and epochs[1].previous == epochs[0].report
    assert epochs[1].url == f"https://coordinator.example/epochs/{EPOCH + 1}"
    assert all(
        len(m["message"]) < MAX_MESSAGE_BYTES // 2 for m in network.node.topics[topic].messages
    )

    verify = ["epoch", "verify", str(EPOCH + 1), "--hedera", "--coordinator", reports_url]
    checked = cli(verify, env(network, TENSORNODE_HEDERA__TOPIC_ID=topic))
    assert checked.exit_code == 0, checked.output
    assert f"epoch {EPOCH + 1}: OK on Hedera" in checked.output

    # the ledger disagrees with the report: the check names the payout
    paid_alice = next(p for p in report.payouts if p.account == ALICE)
    record = network.node.records[paid_alice.transaction_id or ""]
    record.transfers = [
        (a, n - 1 if a == ALICE else n + 1 if a == OPERATOR else n) for a, n in record.transfers
    ]
    broken = cli(verify, env(network, TENSORNODE_HEDERA__TOPIC_ID=topic))
    assert broken.exit_code == 1
    assert (
        f"problem: epoch {EPOCH + 1}: miner payout to {ALICE}: the ledger credited "
        f"{paid_alice.amount - 1}, the report says {paid_alice.amount}"
    ) in broken.output


def test_a_topic_needs_one_of_its_keys(network: Network) -> None:
    stranger = PrivateKey.generate_ed25519()
    network.add_payee("0.0.4000")
    log = score_log(network, OPERATOR, network.operator_key, "0.0.1")
    try:
        topic = log.create_topic([("ED25519", stranger.public_key().to_bytes_raw().hex())], "t")
    finally:
        log.close()
    assert network.node.topics[topic].threshold == 1
    assert len(network.node.topics[topic].submit_keys) == 2


def test_a_validator_registers_once_per_epoch_it_runs_rounds_in(network: Network) -> None:
    key = network.add_payee(VAL_A)
    network.node.accounts[VAL_A].balance = 10**9
    owner = score_log(network, OPERATOR, network.operator_key, "0.0.1")
    topic = owner.create_topic([("ED25519", key.public_key().to_bytes_raw().hex())], "t")
    owner.close()
    registrar = EpochRegistrar(score_log(network, VAL_A, key, topic), epoch_seconds=600)
    start = epoch_window(EPOCH, 600).starts_at
    try:
        sent = [
            registrar.round_completed(start + timedelta(seconds=s)) for s in (10, 310, 610, 900)
        ]
        registered = [registrar.log.registered_validators(e) for e in (EPOCH, EPOCH + 1)]
    finally:
        registrar.log.close()
    assert [m is not None for m in sent] == [True, False, True, False]
    assert registered == [{VAL_A}, {VAL_A}]
