"""The web pages in a real browser against a real coordinator: a miner operator's day.

Create a dev wallet, sign in, deploy a built-in miner from the Miner page's form, watch it
turn healthy, ask the Playground, see the request count rise; a second wallet sees none
of it; an expired challenge is refused. Screenshots of every page (desktop and phone
width) land in test-artifacts/screenshots/.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from e2e.conftest import CHALLENGE_TTL_S, EPOCH_SECONDS, LiveCoordinator
from tensornode.db.models import utcnow
from tensornode.scoring.adversaries import solver
from tensornode.scoring.sim import MinerFarm, ScriptedMiner

pytestmark = pytest.mark.browser

DEPLOY_TIMEOUT_MS = 180_000
ROUND_TIMEOUT_MS = 60_000
PAGES = {
    "overview": "/",
    "miner": "/ui/miner",
    "validator": "/ui/validator",
    "rewards": "/ui/rewards",
    "playground": "/ui/playground",
}
WIDEST = """() => [...document.querySelectorAll("body *")]
    .filter((e) => e.getBoundingClientRect().right > innerWidth && !e.closest(".table-wrap *"))
    .slice(-3).map((e) => `${e.tagName}.${e.className}#${e.id}`)"""
INSTANCE_NAME = "e2e <b>miner</b> 1"  # markup in a name must show as text


async def sign_in_new_wallet(page: Any) -> str:
    """Create a dev wallet in this browser context and sign in with it; its account id."""
    await page.get_by_role("button", name="Create dev wallet").click()
    await page.get_by_text(re.compile(r"wallet 0\.0\.\d+ created")).wait_for()
    await page.get_by_role("button", name="Sign in").click()
    account = page.locator("#wallet-account")
    await account.wait_for(state="visible")
    text = (await account.text_content() or "").strip()
    assert re.fullmatch(r"0\.0\.\d+", text), text
    return text


def field(card: Any, key: str) -> Any:
    return card.locator(f'[data-field="{key}"]')


async def screenshot_all(page: Any, base: str, shots: Path, suffix: str) -> None:
    for name, path in PAGES.items():
        await page.goto(base + path)
        await page.wait_for_load_state("networkidle")
        await page.screenshot(path=str(shots / f"{name}-{suffix}.png"), full_page=True)


async def wait_deployment_finished(page: Any) -> None:
    """Wait for the live progress panel to show a final state; it must be healthy."""
    final = re.compile(r"^(healthy|failed|stopped)$")
    state = page.locator("#progress-state .badge").filter(has_text=final)
    await state.wait_for(timeout=DEPLOY_TIMEOUT_MS)
    events = await page.locator("#progress-events li").all_text_contents()
    assert await state.text_content() == "healthy", events


async def deploy_from_form(page: Any) -> Any:
    """Fill Create & Deploy for a built-in miner and wait until it is healthy; its card."""
    await page.get_by_label("Instance name").fill(INSTANCE_NAME)
    await page.get_by_role("radio", name="Built-in model").check()
    assert await page.get_by_label("Port").input_value() == "3000"
    await page.get_by_label("Price cap (USD per epoch)").fill("3.0")
    await page.get_by_text(re.compile(r"Estimate: \$[0-9.]+ per epoch.*cap \$3")).wait_for()
    await page.get_by_role("button", name="Create & Deploy").click()
    await wait_deployment_finished(page)
    card = page.locator("article.instance")
    await field(card, "vmStatus").filter(has_text="active").wait_for()
    return card


async def test_operator_deploys_queries_and_sees_requests(
    coordinator: LiveCoordinator, browser: Any, screenshots: Path
) -> None:
    base = coordinator.url
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    await page.goto(base + "/ui/miner")
    await page.get_by_text("Sign in with your wallet").wait_for()
    account = await sign_in_new_wallet(page)
    await page.get_by_text("No instances yet").wait_for()

    card = await deploy_from_form(page)
    await page.screenshot(path=str(screenshots / "miner-deployed-desktop.png"), full_page=True)
    assert await card.count() == 1
    assert await card.locator("h3").text_content() == INSTANCE_NAME
    assert await card.locator("h3 b").count() == 0
    await field(card, "endpoint").filter(has_text="http://127.0.0.1:").wait_for()
    assert re.fullmatch(r"\d+\.\d+\.\d+\.\d+", (await field(card, "publicIp").text_content()) or "")
    await field(card, "requests").filter(has_text=re.compile(r"^0$")).wait_for()

    await card.get_by_role("button", name="Logs").click()
    await page.locator("#logs-output", has_text="healthy").wait_for()
    await page.screenshot(path=str(screenshots / "miner-logs-desktop.png"))
    await page.get_by_role("button", name="Close").click()

    await page.goto(base + "/ui/playground")
    await page.get_by_label("Prompt").fill("What is 2 + 2?")
    await page.get_by_role("button", name="Send").click()
    answer = page.locator("li.msg.miner")
    await answer.wait_for()
    meta = await answer.locator(".meta").text_content() or ""
    assert f"Miner {INSTANCE_NAME}" in (await answer.locator(".who").text_content() or "")
    assert "gateway overhead" in meta and "round trip" in meta, meta
    await page.screenshot(path=str(screenshots / "playground-answer-desktop.png"), full_page=True)

    await page.goto(base + "/ui/miner")
    card = page.locator("article.instance")
    await field(card, "requests").filter(has_text=re.compile(r"^1$")).wait_for()
    await card.locator(".chart-box img").wait_for()

    await page.goto(base + "/")
    await page.locator("#stat-miners", has_text="1").wait_for()
    await page.locator("#stat-requests", has_text="1").wait_for()
    await page.locator("#latency-chart img").wait_for()

    await page.goto(base + "/ui/validator")
    await page.locator("#rounds tbody tr").first.wait_for(timeout=ROUND_TIMEOUT_MS)
    await page.locator("#results summary").first.click()
    evidence = page.locator("#results .evidence").first
    await evidence.filter(has_not_text="loading").wait_for()
    assert await evidence.locator("li").count() > 0, await evidence.text_content()
    assert re.search(
        r"[0-9a-f]{64}", await page.locator("#results .hash").first.text_content() or ""
    )
    await page.screenshot(path=str(screenshots / "validator-evidence-desktop.png"), full_page=True)

    # The tiny model fails the validator's tasks, so it earns nothing (quality gates every
    # score component): the wallet's earnings come from a capable miner it registers too.
    farm = MinerFarm()
    try:
        capable = await farm.add("capable", ScriptedMiner(answer=solver("e2e"), token_delay_s=0.01))
        async with httpx.AsyncClient(base_url=base, timeout=30) as api:
            resp = await api.post(
                "/miners",
                json={"endpoint": capable, "name": "capable"},
                headers={"X-Wallet-Address": account},
            )
            assert resp.status_code == 201, resp.text
            await page.goto(base + "/ui/rewards")
            await (
                page.locator("#earned-epochs")
                .filter(has_text=re.compile(r"^[1-9]"))
                .wait_for(timeout=(EPOCH_SECONDS * 3 + 10) * 1000)
            )
            await page.locator("#earnings-chart svg, #earnings-chart p").first.wait_for()
            await page.locator("#payouts .name.mine").first.wait_for()
            gone = await api.delete(
                f"/miners/{resp.json()['id']}", headers={"X-Wallet-Address": account}
            )
            assert gone.status_code in (200, 204), gone.text
    finally:
        await farm.close()

    await screenshot_all(page, base, screenshots, "desktop")
    await page.set_viewport_size({"width": 390, "height": 844})
    for path in PAGES.values():
        await page.goto(base + path)
        await page.wait_for_load_state("networkidle")
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{path} is {width}px wide: {await page.evaluate(WIDEST)}"
    await screenshot_all(page, base, screenshots, "phone")
    assert account in (await page.locator("#wallet-account").text_content() or "")
    assert errors == []

    await page.set_viewport_size({"width": 1280, "height": 900})
    await page.goto(base + "/ui/miner")
    card = page.locator("article.instance")
    await card.get_by_role("button", name="Stop").click()
    await field(card, "state").filter(has_text="stopped").wait_for()
    await card.get_by_role("button", name="Restart").click()
    await wait_deployment_finished(page)
    await field(card, "state").filter(has_text="healthy").wait_for()
    await page.locator("article.instance").get_by_role("button", name="Terminate").click()
    await page.get_by_text("No instances yet").wait_for()
    await context.close()


async def test_second_wallet_cannot_see_first_wallets_instance(
    coordinator: LiveCoordinator, browser: Any
) -> None:
    base = coordinator.url
    first = await (await browser.new_context()).new_page()
    await first.goto(base + "/ui/miner")
    await sign_in_new_wallet(first)
    vm_id = await first.evaluate(
        """async () => {
            const csrf = document.cookie.match(/tn_csrf=([^;]*)/)[1];
            const r = await fetch("/deploy", {method: "POST", headers: {
                "Content-Type": "application/json", "X-CSRF-Token": decodeURIComponent(csrf)},
                body: JSON.stringify({instanceName: "first-wallet-vm"})});
            return (await r.json()).deployment.vmId;
        }"""
    )
    await first.locator("article.instance h3", has_text="first-wallet-vm").wait_for()

    second = await (await browser.new_context()).new_page()
    await second.goto(base + "/ui/miner")
    other = await sign_in_new_wallet(second)
    assert other != (await first.locator("#wallet-account").text_content())
    await second.get_by_text("No instances yet").wait_for()
    assert await second.locator("article.instance").count() == 0
    status = await second.evaluate(f"async () => (await fetch('/vms/{vm_id}')).status")
    assert status == 404


async def test_expired_challenge_is_refused(coordinator: LiveCoordinator, browser: Any) -> None:
    page = await (await browser.new_context()).new_page()
    await page.goto(coordinator.url + "/ui/miner")
    await page.get_by_role("button", name="Create dev wallet").click()
    await page.get_by_text(re.compile(r"wallet 0\.0\.\d+ created")).wait_for()
    challenge = await page.evaluate(
        """async () => {
            const w = await import("/static/js/wallet.js");
            const wallet = await w.loadWallet();
            const r = await fetch("/auth/challenge", {method: "POST",
                headers: {"Content-Type": "application/json"},
                body: JSON.stringify({accountId: wallet.accountId})});
            return await r.json();
        }"""
    )
    auth = coordinator.app.state.auth
    auth.clock = lambda: utcnow() + timedelta(seconds=CHALLENGE_TTL_S + 1)
    answer = await page.evaluate(
        """async (challenge) => {
            const w = await import("/static/js/wallet.js");
            const wallet = await w.loadWallet();
            const signature = await w.signMessage(wallet, challenge.message);
            const r = await fetch("/auth/verify", {method: "POST",
                headers: {"Content-Type": "application/json"},
                body: JSON.stringify({accountId: wallet.accountId, signature,
                    challengeId: challenge.challengeId, publicKey: wallet.publicKey})});
            return {status: r.status, body: await r.json()};
        }""",
        challenge,
    )
    assert answer["status"] == 401
    assert answer["body"]["error"].startswith("challenge expired at ")
    assert not [c for c in await page.context.cookies() if c["name"] == "tn_session"]
