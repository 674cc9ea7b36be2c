// The header's wallet controls: "Create dev wallet" (dev networks), "Sign in" with this
// browser's wallet (wallet.js: WebCrypto Ed25519, challenge -> signature -> session), the
// signed-in account id, and "Sign out". Pages learn of changes through app.js onSession.

import { createWallet, loadWallet, signIn, signOut } from "/static/js/wallet.js";
import { $, onSession, say, setSession } from "/static/js/app.js";

const devMode = document.body.dataset.devMode === "true";
const account = $("wallet-account");
const createButton = $("wallet-create");
const signInButton = $("wallet-signin");
const signOutButton = $("wallet-signout");
const note = $("wallet-note");

async function render(session) {
  if (session) {
    account.textContent = session.accountId;
    account.title = "signed-in account";
    account.hidden = false;
    createButton.hidden = true;
    signInButton.hidden = true;
    signOutButton.hidden = false;
    return;
  }
  account.hidden = true;
  signOutButton.hidden = true;
  let wallet = null;
  try {
    wallet = await loadWallet();
  } catch (error) {
    say(note, `wallet storage unavailable: ${error.message}`);
  }
  createButton.hidden = !devMode || Boolean(wallet);
  signInButton.hidden = !wallet && devMode;
  signInButton.title = wallet ? `sign in as ${wallet.accountId}` : "";
}

async function busy(button, work) {
  button.disabled = true;
  say(note, "");
  try {
    await work();
  } catch (error) {
    say(note, error.message || String(error));
    note.classList.add("error");
  } finally {
    button.disabled = false;
  }
}

createButton.addEventListener("click", () =>
  busy(createButton, async () => {
    const wallet = await createWallet();
    say(note, `wallet ${wallet.accountId} created${wallet.funded ? " and funded" : ""}`);
    note.classList.remove("error");
    await render(null);
  }),
);

signInButton.addEventListener("click", () =>
  busy(signInButton, async () => {
    const wallet = await loadWallet();
    if (!wallet && !devMode) {
      throw new Error("no wallet in this browser: sign in with the CLI (tensornode wallet)");
    }
    const session = await signIn(wallet ? wallet.accountId : undefined);
    say(note, "");
    setSession({ accountId: session.accountId, expiresAt: session.expiresAt });
  }),
);

signOutButton.addEventListener("click", () =>
  busy(signOutButton, async () => {
    await signOut();
    setSession(null);
  }),
);

onSession((session) => render(session));
