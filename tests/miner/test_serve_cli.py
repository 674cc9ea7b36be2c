"""``tensornode miner serve`` as a real subprocess on loopback."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
import pytest

from tensornode.miner.backends.tiny import tiny_model_dir

TENSORNODE = str(Path(sys.executable).parent / "tensornode")
URL_LINE = re.compile(r"TensorNode miner listening on (http://127\.0\.0\.1:(\d+))")


class Miner:
    """A running ``tensornode miner serve`` and the lines it printed."""

    def __init__(self, args: Sequence[str], env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen(
            [TENSORNODE, "miner", "serve", "--host", "127.0.0.1", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, **(env or {})},
        )
        self.lines: list[str] = []
        self.url_ready = threading.Event()
        self.url = ""
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            match = URL_LINE.search(line)
            if match and not self.url:
                self.url = match.group(1)
                self.url_ready.set()

    def wait_healthy(self, timeout: float = 60) -> None:
        assert self.url_ready.wait(timeout), "".join(self.lines)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = httpx.get(f"{self.url}/health", timeout=5)
            if r.status_code == 200:
                return
            assert r.status_code == 503, r.text
            time.sleep(0.1)
        raise AssertionError("miner never became healthy:\n" + "".join(self.lines))

    def stop(self) -> int:
        """SIGTERM, wait; uvicorn shuts down cleanly, then dies of the signal it caught."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=20)
        self._reader.join(timeout=10)
        assert self.process.stdout is not None
        self.process.stdout.close()
        return code


@pytest.fixture(scope="module")
def multi_miner(tiny_data_dir: Path) -> Iterator[Miner]:
    miner = Miner(
        [
            "--port",
            "0",
            "--data-dir",
            str(tiny_data_dir),
            "--model",
            "llm=tiny",
            "--model",
            f"code=transformers:{tiny_model_dir(tiny_data_dir)}",
            "--model",
            "qa=echo",
            "--max-tokens",
            "64",
        ]
    )
    try:
        miner.wait_healthy()
        yield miner
    finally:
        assert miner.stop() == -signal.SIGTERM, "".join(miner.lines)
        assert any("Application shutdown complete" in line for line in miner.lines)


def test_serves_every_model_type_over_real_http(multi_miner: Miner) -> None:
    url = multi_miner.url
    health = httpx.get(f"{url}/health").json()
    assert (health["status"], health["model_loaded"]) == ("healthy", True)
    body = {"prompt": "Question: What is two plus two?", "temperature": 0, "max_tokens": 12}
    llm = httpx.post(f"{url}/api/chat", json=body).json()
    code = httpx.post(f"{url}/api/chat/code", json=body).json()
    qa = httpx.post(f"{url}/api/chat/qa", json=body).json()
    assert llm["model"] == "tiny-v2"
    assert llm["usage"]["completion_tokens"] > 0
    assert code["response"] == llm["response"]  # same weights, same greedy answer
    assert qa["response"] == "Question: What is two plus two?"
    r = httpx.post(f"{url}/api/chat/vision", json=body)
    assert (r.status_code, r.json()) == (404, {"error": "Model not available"})
    r = httpx.post(
        f"{url}/api/chat", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert (r.status_code, r.json()) == (400, {"error": "malformed JSON body"})
    r = httpx.post(f"{url}/api/chat", json={"prompt": "hi", "max_tokens": 65})
    assert (r.status_code, r.json()) == (422, {"error": "max_tokens must be at most 64"})


def test_concurrent_clients_each_get_their_own_answer(multi_miner: Miner) -> None:
    async def run() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=multi_miner.url, timeout=60) as client:
            return await asyncio.gather(
                *(
                    client.post(
                        "/api/chat",
                        json={"prompt": f"Client {i} says", "seed": 100 + i, "max_tokens": 16},
                    )
                    for i in range(12)
                )
            )

    replies = asyncio.run(run())
    assert [r.status_code for r in replies] == [200] * 12
    texts = [r.json()["response"] for r in replies]
    assert len(set(texts)) == 12
    again = httpx.post(
        f"{multi_miner.url}/api/chat",
        json={"prompt": "Client 3 says", "seed": 103, "max_tokens": 16},
    ).json()
    assert again["response"] == texts[3]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_port_comes_from_the_environment(tmp_path: Path) -> None:
    port = _free_port()
    miner = Miner(["--model", "llm=echo", "--data-dir", str(tmp_path)], env={"PORT": str(port)})
    try:
        miner.wait_healthy()
        assert miner.url == f"http://127.0.0.1:{port}"
        r = httpx.post(f"{miner.url}/api/chat", json={"prompt": "ping pong"})
        assert r.json()["response"] == "ping pong"
    finally:
        assert miner.stop() == -signal.SIGTERM


def test_a_bad_model_spec_is_a_one_line_error(tmp_path: Path) -> None:
    done = subprocess.run(
        [TENSORNODE, "miner", "serve", "--model", "llm=gpt5", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.strip().startswith("error: unknown backend 'gpt5' in 'llm=gpt5'")
    assert "Traceback" not in done.stderr + done.stdout


def test_serve_flags_land_in_the_miner_settings(tmp_path: Path) -> None:
    from tensornode.cli.miner_serve import serve_settings
    from tensornode.config import Settings
    from tensornode.errors import ConfigurationError

    base = Settings(data_dir=tmp_path)
    same = serve_settings(base)
    assert same.miner == base.miner
    flagged = serve_settings(
        base, batching=False, cache=False, max_tokens=32, batch_window_ms=0, max_batch_size=4
    )
    assert (flagged.miner.batching, flagged.miner.cache) == (False, False)
    assert (flagged.miner.max_tokens, flagged.miner.max_batch_size) == (32, 4)
    assert flagged.miner.batch_window_ms == 0
    with pytest.raises(ConfigurationError) as caught:
        serve_settings(base, max_tokens=0)
    assert caught.value.message == "--max-tokens: Input should be greater than or equal to 1"


def test_two_processes_building_the_tiny_model_at_once_agree(tmp_path: Path) -> None:
    code = (
        "import sys; from pathlib import Path;"
        "from tensornode.miner.backends.tiny import ensure_tiny_model, tiny_weights_sha256;"
        "print(tiny_weights_sha256(ensure_tiny_model(Path(sys.argv[1]))))"
    )
    builders = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = [b.communicate(timeout=120)[0].strip() for b in builders]
    assert [b.returncode for b in builders] == [0, 0]
    assert outputs[0] == outputs[1] and len(outputs[0]) == 64
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["tiny-v2"]
