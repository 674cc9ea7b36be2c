"""``tensornode epoch verify N --coordinator URL`` against a real HTTP server on loopback."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from typer.testing import CliRunner

from tensornode.cli.main import app
from tensornode.epochs.clock import epoch_window
from tensornode.epochs.report import EpochReport, SplitConfig, draft_report

from .scores import VALIDATORS, rewards, some_miners


def sealed(number: int, previous: EpochReport | None) -> EpochReport:
    return draft_report(
        epoch_window(number, 600),
        some_miners(),
        VALIDATORS,
        emission=5_000,
        config=SplitConfig.from_settings(rewards()),
        previous=None if previous is None else (previous.epoch, previous.hash),
    ).sealed()


class ReportServer(ThreadingHTTPServer):
    """Serves ``GET /epochs/{n}`` from a dict of report bodies, 404 otherwise."""

    bodies: dict[int, str]


class Handler(BaseHTTPRequestHandler):
    server: ReportServer

    def do_GET(self) -> None:
        number = self.path.removeprefix("/epochs/")
        body = self.server.bodies.get(int(number)) if number.isdigit() else None
        payload = (body or '{"error": "no such epoch"}').encode()
        self.send_response(200 if body else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def server() -> Iterator[ReportServer]:
    httpd = ReportServer(("127.0.0.1", 0), Handler)
    httpd.bodies = {}
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def verify(server: ReportServer, number: int) -> tuple[int, str, str]:
    url = f"http://127.0.0.1:{server.server_address[1]}"
    result = CliRunner().invoke(app, ["epoch", "verify", str(number), "--coordinator", url])
    return result.exit_code, result.stdout, result.stderr


def test_verify_a_good_chain(server: ReportServer) -> None:
    first = sealed(3, None)
    second = sealed(7, first)
    server.bodies = {3: first.canonical(), 7: second.canonical()}
    assert verify(server, 7) == (
        0,
        f"epoch 7: OK (7 payouts, 5000 tinybar, hash {second.hash})\n",
        "",
    )
    assert verify(server, 3)[0] == 0


def test_verify_reports_a_tampered_payout(server: ReportServer) -> None:
    first = sealed(3, None)
    body = first.canonical().replace('"amount":500,', '"amount":499,', 1)
    assert body != first.canonical()
    server.bodies = {3: body}
    code, out, err = verify(server, 3)
    assert (code, out) == (1, "")
    assert err.startswith("problem: report: epoch 3: hash ")
    assert "problem: treasury payout to 0.0.98: report says 499, recomputed 500\n" in err
    assert "problem: payouts sum to 4999, not the emission 5000\n" in err


def test_verify_reports_a_rewritten_previous_epoch(server: ReportServer) -> None:
    first = sealed(3, None)
    second = sealed(7, first)
    rewritten = first.model_copy(update={"emission": 6_000}).sealed()
    server.bodies = {3: rewritten.canonical(), 7: second.canonical()}
    code, _, err = verify(server, 7)
    assert code == 1
    assert f"but epoch 3's hash is {rewritten.hash}" in err


def test_verify_a_missing_epoch_or_coordinator(server: ReportServer) -> None:
    assert verify(server, 99) == (
        1,
        "",
        f"error: epoch 99 has no report at http://127.0.0.1:{server.server_address[1]} "
        "(not settled yet?)\n",
    )
    server.bodies = {5: '{"epoch": "five"}'}
    code, _, err = verify(server, 5)
    assert code == 1 and err.startswith("error: epoch 5's report is malformed: ")
