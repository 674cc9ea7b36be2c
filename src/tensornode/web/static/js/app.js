// TensorNode pages' shared helpers: the API fetch wrapper (session cookie + CSRF header),
// the signed-in session, polling that pauses in hidden tabs, DOM building that only ever
// sets text (never HTML from data), and number formatting.

const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** An API answer that was not 2xx: ``status`` and the coordinator's ``{"error": ...}``. */
export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }

  /** True when the route itself does not exist on this coordinator (not an absent row). */
  get missingRoute() {
    return (this.status === 404 && /^not found: [A-Z]+ \//.test(this.message)) || this.status === 405;
  }
}

/** The current session's CSRF token (the readable ``tn_csrf`` cookie), or null. */
export function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)tn_csrf=([^;]*)/);
  return match ? decodeURIComponent(match[1]) : null;
}

/**
 * Call the JSON API. ``body`` is sent as JSON, ``form`` (a FormData) as multipart.
 * Resolves to the parsed JSON (``{data, response}`` with ``raw: true``); rejects with
 * ApiError carrying the coordinator's error message.
 */
export async function api(path, { method = "GET", body, form, signal, raw = false } = {}) {
  const headers = new Headers({ Accept: "application/json" });
  method = method.toUpperCase();
  if (UNSAFE.has(method)) {
    const token = csrfToken();
    if (token) headers.set("X-CSRF-Token", token);
  }
  let payload;
  if (form) {
    payload = form; // the browser sets the multipart boundary
  } else if (body !== undefined) {
    headers.set("Content-Type", "application/json");
    payload = JSON.stringify(body);
  }
  const response = await fetch(path, {
    method,
    headers,
    body: payload,
    credentials: "same-origin",
    signal,
  });
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { error: text.slice(0, 200) };
  }
  if (!response.ok) {
    const message = (data && data.error) || `${method} ${path} answered ${response.status}`;
    throw new ApiError(response.status, message, data);
  }
  return raw ? { data, response } : data;
}

// -- session ---------------------------------------------------------------------------

let sessionPromise = null;
const SESSION_EVENT = "tn:session";

/** The signed-in session ({accountId, expiresAt}) or null; fetched once per page. */
export function currentSession() {
  if (!sessionPromise) {
    sessionPromise = api("/auth/session").catch((error) => {
      if (error.status === 401 || error.status === 403 || error.missingRoute) return null;
      throw error;
    });
  }
  return sessionPromise;
}

/** Record a sign-in (session) or sign-out (null) and tell the page. */
export function setSession(session) {
  sessionPromise = Promise.resolve(session);
  window.dispatchEvent(new CustomEvent(SESSION_EVENT, { detail: session }));
}

/** Run ``callback(session)`` now and whenever the caller signs in or out. */
export function onSession(callback) {
  currentSession().then(callback, (error) => console.error("session check failed", error));
  window.addEventListener(SESSION_EVENT, (event) => callback(event.detail));
}

// -- live updates ----------------------------------------------------------------------

/**
 * Call ``task`` now and every ``ms`` while the tab is visible; returns a stop function.
 * A failing task is logged and retried on the next tick.
 */
export function poll(task, ms) {
  let timer = null;
  let stopped = false;
  const tick = async () => {
    timer = null;
    if (stopped) return;
    if (!document.hidden) {
      try {
        await task();
      } catch (error) {
        console.error("update failed", error);
      }
    }
    if (!stopped) timer = setTimeout(tick, ms);
  };
  const wake = () => {
    if (!document.hidden && timer !== null) {
      clearTimeout(timer);
      tick();
    }
  };
  document.addEventListener("visibilitychange", wake);
  tick();
  return () => {
    stopped = true;
    if (timer !== null) clearTimeout(timer);
    document.removeEventListener("visibilitychange", wake);
  };
}

// -- DOM -------------------------------------------------------------------------------

/**
 * ``el("td", {class: "num", title: "x"}, "text", childNode)``: an element whose text
 * children become text nodes. Attributes are set with setAttribute; ``on<event>`` keys
 * add listeners. Never parses HTML.
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      node.className = value;
    } else {
      node.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace a node's children. */
export function fill(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

/** ``document.getElementById``, failing loudly on a template/script mismatch. */
export function $(id) {
  const node = document.getElementById(id);
  if (!node) throw new Error(`missing element #${id}`);
  return node;
}

/** Show ``message`` in an element (hidden when empty). */
export function say(node, message) {
  node.textContent = message || "";
  node.hidden = !message;
}

/** Fill a table body with rows of cells (strings, numbers or nodes). */
export function fillRows(tbody, rows) {
  fill(
    tbody,
    rows.map((cells) => el("tr", {}, cells.map((cell) => (cell instanceof Node && cell.tagName === "TD" ? cell : el("td", {}, cell))))),
  );
}

/** A status badge: its text, and a class from its value for colour. */
export function badge(text) {
  const value = String(text || "unknown");
  return el("span", { class: `badge s-${value.replace(/[^a-z]/gi, "")}` }, value);
}

/** The first present key of ``obj`` (the API is camelCase; reports are snake_case). */
export function pick(obj, ...keys) {
  for (const key of keys) {
    if (obj && obj[key] !== undefined && obj[key] !== null) return obj[key];
  }
  return null;
}

// -- formatting ------------------------------------------------------------------------

/** "2h 15m", "3d 4h", "45s", or "–". */
export function duration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "–";
  const s = Math.max(0, Math.floor(seconds));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d) return `${d}d ${h}h`;
  if (h) return `${h}h ${m}m`;
  if (m) return `${m}m ${s % 60}s`;
  return `${s}s`;
}

/** "123 ms" / "1.24 s" / "–". */
export function millis(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "–";
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`;
}

/** "97%" / "–" for a share in [0, 1]. */
export function percent(share) {
  if (share === null || share === undefined || !Number.isFinite(share)) return "–";
  return `${Math.round(share * 100)}%`;
}

/** A score in [0, 1] as "0.873". */
export function score(value) {
  if (value === null || value === undefined || !Number.isFinite(value)) return "–";
  return value.toFixed(3);
}

/** An integer amount in the smallest unit; tinybars are shown as HBAR (10^8). */
export function amount(units, unit = document.body.dataset.unit || "tinybar") {
  if (units === null || units === undefined) return "–";
  if (unit === "tinybar") {
    const hbar = Number(BigInt(units)) / 1e8;
    return `${hbar.toLocaleString("en-US", { maximumFractionDigits: 8 })} ℏ`;
  }
  return `${Number(units).toLocaleString("en-US")} ${unit}`;
}

/** An ISO time as "2026-11-25 14:03 UTC" ("14:03:27" with ``seconds``). */
export function when(iso, { seconds = false } = {}) {
  if (!iso) return "–";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  return `${date.toISOString().slice(0, seconds ? 19 : 16).replace("T", " ")} UTC`;
}

/** A server chart's width for ``box``: its own width, within what the chart route accepts. */
export function chartWidth(box, fallback = 560) {
  const width = Math.round(box.clientWidth || fallback);
  return Math.max(240, Math.min(1100, width));
}

/** "updated 14:03:12" for a live-update indicator. */
export function stamp(node) {
  node.textContent = `updated ${new Date().toLocaleTimeString("en-GB")}`;
}
