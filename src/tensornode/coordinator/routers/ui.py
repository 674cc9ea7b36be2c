"""The web pages: ``/`` and ``/ui/...`` (server-rendered shells), ``/static``, SVG charts.

Pages are thin Jinja2 shells; their data comes from the JSON API, fetched by the
project's own scripts (``static/js``) with the caller's session cookie, so a page shows
nothing a direct API call would not. Charts of response time are drawn here as SVG.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, FastAPI, Query, Request, Response
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from tensornode import __version__
from tensornode.coordinator.deps import CoordinatorDep
from tensornode.db.models import utcnow
from tensornode.web import STATIC_DIR, TEMPLATES_DIR
from tensornode.web.charts import line_chart
from tensornode.web.series import response_time_series

router = APIRouter(tags=["ui"], include_in_schema=False)
templates = Jinja2Templates(directory=TEMPLATES_DIR)

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'; "
    "form-action 'self'"
)
"""Pages load only our own files; no inline script, no third-party host."""


@dataclass(frozen=True)
class Tab:
    """A navigation tab: its key, path and label."""

    key: str
    path: str
    label: str


TABS = (
    Tab("overview", "/", "Overview"),
    Tab("miner", "/ui/miner", "Miner"),
    Tab("validator", "/ui/validator", "Validator"),
    Tab("rewards", "/ui/rewards", "Rewards"),
    Tab("playground", "/ui/playground", "Playground"),
)


def _page(request: Request, core: CoordinatorDep, key: str) -> HTMLResponse:
    tab = next(t for t in TABS if t.key == key)
    context = {
        "tab": tab,
        "tabs": TABS,
        "dev_mode": core.settings.dev_mode,
        "version": __version__,
        "unit": core.settings.rewards.unit,
    }
    response = templates.TemplateResponse(request, f"{key}.html", context)
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


@router.get("/", response_class=HTMLResponse)
async def overview(request: Request, core: CoordinatorDep) -> HTMLResponse:
    """The network at a glance."""
    return _page(request, core, "overview")


@router.get("/ui/miner", response_class=HTMLResponse)
async def miner_page(request: Request, core: CoordinatorDep) -> HTMLResponse:
    """The caller's instances and the Create & Deploy form."""
    return _page(request, core, "miner")


@router.get("/ui/validator", response_class=HTMLResponse)
async def validator_page(request: Request, core: CoordinatorDep) -> HTMLResponse:
    """Recent rounds, per-miner results, manual validation."""
    return _page(request, core, "validator")


@router.get("/ui/rewards", response_class=HTMLResponse)
async def rewards_page(request: Request, core: CoordinatorDep) -> HTMLResponse:
    """Epochs, payouts, the caller's earnings."""
    return _page(request, core, "rewards")


@router.get("/ui/playground", response_class=HTMLResponse)
async def playground_page(request: Request, core: CoordinatorDep) -> HTMLResponse:
    """Chat with the network through the gateway."""
    return _page(request, core, "playground")


MinerIds = Annotated[list[str], Query(alias="miner", min_length=1, max_length=6)]


@router.get("/ui/charts/response-time.svg")
async def response_time_chart(
    core: CoordinatorDep,
    miner_ids: MinerIds,
    minutes: Annotated[int, Query(ge=5, le=24 * 60)] = 60,
    width: Annotated[int, Query(ge=200, le=1200)] = 560,
) -> Response:
    """Average response time per minute of up to six miners (public data, like /miners)."""
    now = utcnow()
    origin = now - timedelta(minutes=minutes)
    async with core.db.session() as session:
        series = await response_time_series(session, miner_ids, minutes=minutes, now=now)
    svg = line_chart(
        [s.as_chart(origin) for s in series],
        title=f"Response time, last {minutes} min",
        y_unit=" ms",
        x_labels=(origin.strftime("%H:%M UTC"), now.strftime("%H:%M UTC")),
        width=width,
        x_range=(0.0, float(minutes)),
        legend=True,
    )
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "no-store"})


def install_ui(app: FastAPI) -> None:
    """Serve the pages, the charts and ``/static`` from ``app``."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
