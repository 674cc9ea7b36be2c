"""Schemathesis over the coordinator's whole OpenAPI spec, against a real server on
loopback outside dev mode: valid and invalid inputs to every operation, no 5xx.

Unauthenticated for every operation (the auth paths), then signed in (an API key) for the
reads; signed-in writes would rent VMs and resolve the URLs they generate, which is not
for a unit suite.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.generation import GenerationMode

from factories import make_settings, new_wallet
from loopback import serving_in_thread
from tensornode.config import Settings
from tensornode.coordinator.accounts import create_api_key
from tensornode.coordinator.app import build_app
from tensornode.db.session import Database

CASES_PER_MODE = 15  # x operations x 2 modes: over 1,000 cases in all


async def _api_key(settings: Settings) -> str:
    db = Database.from_settings(settings)
    try:
        await asyncio.to_thread(db.migrate)
        async with db.session() as session:
            return await create_api_key(session, new_wallet())
    finally:
        await db.dispose()


@pytest.fixture(scope="module")
def coordinator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(URL, API key) of a production-mode coordinator on loopback."""
    tmp: Path = tmp_path_factory.mktemp("openapi")
    settings = make_settings(tmp, f"sqlite:///{tmp / 'c.db'}", dev_mode=False)
    key = asyncio.run(_api_key(settings))
    with serving_in_thread(build_app(settings)) as url:
        yield url, key


def _fuzz(
    url: str, *, headers: dict[str, str], methods: set[str] | None = None, per_mode: int
) -> tuple[int, list[str]]:
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    session = requests.Session()
    cases = 0
    errors: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if methods is not None and operation.method.upper() not in methods:
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=per_mode,
                deadline=None,
                database=None,
                phases=[Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            def run(case: Any) -> None:
                nonlocal cases
                response = case.call(base_url=url, session=session, headers=headers, timeout=30)
                cases += 1
                if response.status_code >= 500:
                    errors.append(
                        f"{case.method} {case.path} -> {response.status_code}:"
                        f" {response.text[:200]}"
                    )

            try:
                run()
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE  # nothing to get wrong: no parameters
    return cases, errors


def test_no_server_error_anywhere_without_credentials(coordinator: tuple[str, str]) -> None:
    url, _ = coordinator
    cases, errors = _fuzz(url, headers={}, per_mode=CASES_PER_MODE)
    assert errors == []
    assert cases >= 1000


def test_no_server_error_in_signed_in_reads(coordinator: tuple[str, str]) -> None:
    url, key = coordinator
    cases, errors = _fuzz(
        url, headers={"Authorization": f"Bearer {key}"}, methods={"GET"}, per_mode=6
    )
    assert errors == []
    assert cases >= 150
