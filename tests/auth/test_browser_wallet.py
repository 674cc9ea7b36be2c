"""The browser dev wallet (web/static/js/wallet.js) in real Chromium against a coordinator:
a WebCrypto Ed25519 key in IndexedDB signs a real challenge, and the cookie session works."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        shutil.which(CHROMIUM) is None,
        reason="Debian chromium is not installed (apt-get install chromium)",
    ),
]

FIRST_VISIT = """async () => {
  const w = await import('/static/js/wallet.js');
  const created = await w.createWallet();
  const session = await w.signIn(created.accountId);
  const who = await (await fetch('/auth/session')).json();
  const deploy = await w.authFetch('/deploy', {method: 'POST', body: JSON.stringify({})});
  return {
    created: {accountId: created.accountId, publicKey: created.publicKey, funded: created.funded},
    session: {accountId: session.accountId, csrfToken: session.csrfToken},
    who,
    cookies: document.cookie,
    deploy: {status: deploy.status, body: await deploy.json()},
  };
}"""

SECOND_VISIT = """async () => {
  const w = await import('/static/js/wallet.js');
  const wallet = await w.loadWallet();
  let extractable = true;
  try { await crypto.subtle.exportKey('pkcs8', wallet.keyPair.privateKey); }
  catch (error) { extractable = false; }
  const session = await w.signIn();
  const signedOut = await w.signOut();
  const after = await fetch('/auth/session');
  return {
    accountId: wallet.accountId,
    privateExtractable: wallet.keyPair.privateKey.extractable || extractable,
    session: session.accountId,
    signedOut,
    after: after.status,
  };
}"""


def test_browser_wallet_signs_in_with_webcrypto(
    coordinator: tuple[str, str], tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    url, _ = coordinator
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            context = browser.new_context()
            page = context.new_page()
            page.goto(f"{url}/health")  # any same-origin document of the coordinator
            first: dict[str, Any] = page.evaluate(FIRST_VISIT)
            account = first["created"]["accountId"]
            assert len(first["created"]["publicKey"]) == 64  # raw Ed25519 hex
            assert first["created"]["funded"] == 10_000_000_000
            assert first["session"]["accountId"] == account
            assert first["who"] == {
                "accountId": account,
                "expiresAt": first["who"]["expiresAt"],
                "via": "cookie",
            }
            # the session cookie is HttpOnly: scripts see only the CSRF token
            assert "tn_session" not in first["cookies"]
            assert f"tn_csrf={first['session']['csrfToken']}" in first["cookies"]
            assert first["deploy"]["status"] == 201, first["deploy"]
            assert first["deploy"]["body"]["vms"][0]["owner"] == account
            cookies = {c["name"]: c for c in context.cookies()}
            assert cookies["tn_session"]["httpOnly"] and cookies["tn_session"]["sameSite"] == "Lax"

            page.reload()
            second: dict[str, Any] = page.evaluate(SECOND_VISIT)
            assert second == {
                "accountId": account,  # the key survived in IndexedDB
                "privateExtractable": False,
                "session": account,
                "signedOut": True,
                "after": 401,
            }
        finally:
            browser.close()
