"""Per-miner request figures: batched into miner_requests, shown by ``GET /miners/{id}``,
and exported to Prometheus at ``/metrics``."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from factories import DB_BACKENDS, database_url
from tensornode.db.models import MinerRequests

from .chat_miner import serve_chat_miner
from .conftest import add_miner, client_for, gateway_of, gateway_settings, running


@pytest.mark.parametrize("backend", DB_BACKENDS)
async def test_requests_are_recorded_in_batches_and_shown_on_the_miner(
    backend: str, tmp_path: Path
) -> None:
    with database_url(backend, tmp_path) as url:
        settings = gateway_settings(tmp_path, flush_interval_s=3600)
        settings = settings.model_copy(update={"database_url": url})
        async with (
            running(settings) as app,
            client_for(app) as client,
            serve_chat_miner("good", delay_s=0.03) as good,
            serve_chat_miner("bad", fail_status=500) as bad,
        ):
            good_id = await add_miner(app, good.endpoint)
            bad_id = await add_miner(app, bad.endpoint)
            for n in range(12):
                resp = await client.post("/api/chat", json={"prompt": f"one two {n}"})
                assert resp.status_code == 200
            db = app.state.coordinator.db
            async with db.session() as session:
                rows = await session.scalar(select(func.count()).select_from(MinerRequests))
            assert rows == 0  # nothing written per request
            recorder = gateway_of(app).recorder
            assert recorder.pending == 12 + bad.requests
            assert await recorder.flush() == 12 + bad.requests  # one batch

            shown = (await client.get(f"/miners/{good_id}")).json()
            assert shown["requestCount"] == 12 and shown["errorCount"] == 0
            assert shown["avgResponseTimeMs"] >= 30.0
            assert shown["p95ResponseTimeMs"] in (50, 100, 250, 500, 1000)
            failing = (await client.get(f"/miners/{bad_id}")).json()
            assert failing["requestCount"] == failing["errorCount"] == bad.requests >= 1
            async with db.session() as session:
                tokens = await session.scalar(
                    select(func.sum(MinerRequests.tokens)).where(MinerRequests.miner_id == good_id)
                )
            assert tokens == 12 * (3 + 4)  # prompt + completion tokens the miner reported

            metrics = (await client.get("/metrics")).text
        ok_line = f'tensornode_gateway_requests_total{{miner_id="{good_id}",outcome="ok"}} 12.0'
        assert ok_line in metrics
        tokens_line = f'tensornode_gateway_tokens_total{{kind="completion",miner_id="{good_id}"}}'
        assert f"{tokens_line} 48.0" in metrics
        assert "tensornode_gateway_overhead_seconds_count 12.0" in metrics
        assert "tensornode_miner_probes" in metrics  # the monitor's series, same registry
