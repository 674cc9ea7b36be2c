"""Server-drawn SVG charts: exact points for known series, escaping, the chart route."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta

import httpx
from fastapi import FastAPI

from tensornode.coordinator.core import Coordinator
from tensornode.db.metrics import RequestSample, record_requests
from tensornode.db.models import Account, Miner, utcnow
from tensornode.web.charts import Series, line_chart, sparkline

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def test_sparkline_points_for_a_known_series() -> None:
    root = parse(sparkline([0, 5, 10], width=100, height=20, pad=0))
    (line,) = root.iter(f"{SVG}polyline")
    assert line.get("points") == "0.0,20.0 50.0,10.0 100.0,0.0"
    assert root.get("viewBox") == "0 0 100 20"
    assert root.get("role") == "img"


def test_sparkline_of_a_flat_series_sits_mid_height_and_empty_draws_nothing() -> None:
    (flat,) = parse(sparkline([0, 0], width=10, height=10, pad=0)).iter(f"{SVG}polyline")
    assert flat.get("points") == "0.0,5.0 10.0,5.0"
    assert list(parse(sparkline([])).iter(f"{SVG}polyline")) == []


def test_line_chart_scales_every_series_into_the_same_frame() -> None:
    svg = line_chart(
        [Series("a", [(0, 0), (10, 100)]), Series("b", [(0, 50), (10, 50)])],
        title="Response time",
        y_unit=" ms",
        width=256,
        height=228,  # plot box: x 44..244, y 24..176 (two legend rows below it)
    )
    root = parse(svg)
    lines = {p.get("data-series"): p.get("points") for p in root.iter(f"{SVG}polyline")}
    assert lines == {"a": "44.0,176.0 244.0,24.0", "b": "44.0,100.0 244.0,100.0"}
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "100 ms" in texts and "a" in texts and "b" in texts
    assert root.find(f"{SVG}title").text == "Response time"  # type: ignore[union-attr]


def test_line_chart_fixed_x_range_and_skipped_non_finite_points() -> None:
    svg = line_chart(
        [Series("m", [(30, 10), (45, float("nan")), (60, 20)])],
        title="t",
        width=256,
        height=200,  # plot box: x 44..244, y 24..176 (one series: no legend)
        x_range=(0, 60),
        y_max=20,
    )
    (line,) = parse(svg).iter(f"{SVG}polyline")
    assert line.get("points") == "144.0,100.0 244.0,24.0"


def test_line_chart_without_data_says_so() -> None:
    root = parse(line_chart([Series("m", [])], title="t"))
    assert "no data yet" in [t.text for t in root.iter(f"{SVG}text")]


def test_names_are_escaped() -> None:
    svg = line_chart([Series('<script>alert("x")</script>', [(0, 1)])], title="a & b", legend=True)
    assert "<script>" not in svg
    root = parse(svg)  # still well-formed XML
    assert '<script>alert("x")</script>' in [t.text for t in root.iter(f"{SVG}text")]


async def _miner_with_requests(core: Coordinator, latencies: list[float]) -> str:
    now = utcnow()
    async with core.db.session() as session:
        session.add(Account(id="0.0.4242"))
        miner = Miner(
            owner_id="0.0.4242", kind="external", name="<b>fast</b> miner",
            endpoint="http://127.0.0.1:9", status="active",
        )  # fmt: skip
        session.add(miner)
        await session.flush()
        samples = [
            RequestSample(
                miner.id, latency, ok=True, at=now - timedelta(minutes=len(latencies) - i)
            )
            for i, latency in enumerate(latencies)
        ]
        await record_requests(session, samples)
        return miner.id


async def test_response_time_chart_draws_a_miners_minutes(
    app_client: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = app_client
    miner_id = await _miner_with_requests(app.state.coordinator, [100.0, 300.0])
    resp = await client.get(f"/ui/charts/response-time.svg?miner={miner_id}&minutes=60")
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "image/svg+xml"
    assert resp.headers["cache-control"] == "no-store"
    root = parse(resp.text)
    (line,) = root.iter(f"{SVG}polyline")
    ys = [float(p.split(",")[1]) for p in (line.get("points") or "").split()]
    assert len(ys) == 2 and ys[0] > ys[1]  # 100 ms drawn lower than 300 ms
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "300 ms" in texts and "<b>fast</b> miner" in texts
    assert "<b>" not in resp.text


async def test_response_time_chart_needs_a_miner(client: httpx.AsyncClient) -> None:
    resp = await client.get("/ui/charts/response-time.svg")
    assert resp.status_code == 422
    assert resp.json()["error"].startswith("miner:")
    unknown = await client.get("/ui/charts/response-time.svg?miner=nope")
    assert unknown.status_code == 200
    assert "no data yet" in unknown.text
