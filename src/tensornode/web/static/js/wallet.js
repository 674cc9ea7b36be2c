// TensorNode's browser dev wallet: an Ed25519 key made with WebCrypto, kept in IndexedDB
// (the private key is non-extractable: scripts can use it to sign, never read it), and
// sign-in with the coordinator's challenge/verify API in the Hedera signed-message format.
//
//   import { createWallet, loadWallet, signIn, authFetch } from "/static/js/wallet.js";
//   const session = await signIn();          // register (dev) -> challenge -> sign -> verify
//   await authFetch("/deploy", { method: "POST", body: JSON.stringify({...}) });
//
// The session arrives as cookies: tn_session (HttpOnly) and tn_csrf (readable), whose
// value authFetch sends as X-CSRF-Token on state-changing requests.

const DB_NAME = "tensornode-wallet";
const STORE = "wallets";
const RECORD = "default";
const PREFIX = "\x19Hedera Signed Message:\n";
const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);

let apiBase = "";

/** Point the wallet at a coordinator other than this page's origin (default ""). */
export function configure({ baseUrl = "" } = {}) {
  apiBase = baseUrl.replace(/\/$/, "");
}

/** Whether this browser's WebCrypto can make Ed25519 keys. */
export async function supported() {
  try {
    await crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"]);
    return true;
  } catch (error) {
    console.warn("WebCrypto Ed25519 is unavailable:", error);
    return false;
  }
}

function openDb() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function withStore(mode, action) {
  const db = await openDb();
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const request = action(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(request.result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

function toHex(buffer) {
  return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The bytes a Hedera wallet signs: prefix, message.length (UTF-16 units), message; UTF-8. */
export function hederaMessageBytes(message) {
  return new TextEncoder().encode(PREFIX + message.length + message);
}

async function api(path, body) {
  const response = await fetch(apiBase + path, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new Error(data.error || `${path} answered ${response.status}`);
    error.status = response.status;
    throw error;
  }
  return data;
}

/** This browser's wallet ({accountId, publicKey, keyPair}), or null if none was created. */
export async function loadWallet() {
  const record = await withStore("readonly", (store) => store.get(RECORD));
  return record || null;
}

async function register(publicKey, accountId) {
  return api("/auth/register", accountId ? { accountId, publicKey } : { publicKey });
}

/** Make a new Ed25519 key, register it on the local ledger (dev mode; the faucet funds it). */
export async function createWallet() {
  const keyPair = await crypto.subtle.generateKey({ name: "Ed25519" }, false, [
    "sign",
    "verify",
  ]);
  const publicKey = toHex(await crypto.subtle.exportKey("raw", keyPair.publicKey));
  const registration = await register(publicKey);
  const wallet = { accountId: registration.accountId, publicKey, keyPair };
  await withStore("readwrite", (store) => store.put(wallet, RECORD));
  return { ...wallet, funded: registration.funded, balance: registration.balance };
}

/** Forget this browser's wallet (its key is gone for good). */
export async function deleteWallet() {
  await withStore("readwrite", (store) => store.delete(RECORD));
}

/** The wallet's hex Ed25519 signature of ``message`` in the Hedera signed-message format. */
export async function signMessage(wallet, message) {
  const signature = await crypto.subtle.sign(
    { name: "Ed25519" },
    wallet.keyPair.privateKey,
    hederaMessageBytes(message),
  );
  return toHex(signature);
}

/** Sign in (creating the wallet if needed): register (dev) -> challenge -> sign -> verify. */
export async function signIn(accountId) {
  const wallet = (await loadWallet()) || (await createWallet());
  if (accountId && accountId !== wallet.accountId) {
    throw new Error(`this browser's wallet is account ${wallet.accountId}, not ${accountId}`);
  }
  try {
    await register(wallet.publicKey, wallet.accountId); // the same key again changes nothing
  } catch (error) {
    if (error.status !== 403) throw error; // 403: not a dev network, the key is on Hedera
  }
  const challenge = await api("/auth/challenge", { accountId: wallet.accountId });
  const signature = await signMessage(wallet, challenge.message);
  return api("/auth/verify", {
    accountId: wallet.accountId,
    challengeId: challenge.challengeId,
    signature,
    publicKey: wallet.publicKey,
  });
}

/** The CSRF token of the current session (the tn_csrf cookie), or null. */
export function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)tn_csrf=([^;]*)/);
  return match ? decodeURIComponent(match[1]) : null;
}

/** fetch() with the session cookie and, on state-changing methods, the CSRF header. */
export function authFetch(path, options = {}) {
  const method = (options.method || "GET").toUpperCase();
  const headers = new Headers(options.headers || {});
  if (UNSAFE.has(method)) {
    const token = csrfToken();
    if (token) headers.set("X-CSRF-Token", token);
    if (options.body && !headers.has("Content-Type")) {
      headers.set("Content-Type", "application/json");
    }
  }
  return fetch(apiBase + path, { ...options, method, headers, credentials: "same-origin" });
}

/** Revoke the session (POST /auth/logout). */
export async function signOut() {
  const response = await authFetch("/auth/logout", { method: "POST" });
  return response.ok;
}
