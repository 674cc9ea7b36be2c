// Miner: the caller's instances (VM, miner figures, score and why), their actions and live
// logs, and the Create & Deploy form with its estimate and live deployment progress.

import {
  $, api, badge, chartWidth, duration, el, fill, millis, onSession, percent, poll, say, score, stamp, when,
} from "/static/js/app.js";
import { lineChart } from "/static/js/chart.js";

const FINISHED = new Set(["healthy", "failed", "stopped"]);
const cards = new Map(); // vm id -> {root, fields, chart}
let stopPolling = null;

// -- instances ---------------------------------------------------------------------------

function field(label, key) {
  const value = el("dd", { "data-field": key }, "–");
  return { node: el("div", { class: "kv" }, el("dt", {}, label), value), value };
}

function newCard(vm) {
  const fields = {};
  const list = el("dl", { class: "kvs" });
  const rows = [
    ["VM status", "vmStatus"], ["Miner", "state"], ["Public IP", "publicIp"],
    ["API endpoint", "endpoint"], ["Uptime", "uptime"], ["Requests", "requests"],
    ["Avg response", "latency"], ["Availability", "availability"], ["Restarts", "restarts"], ["Configuration", "configuration"],
  ];
  for (const [label, key] of rows) {
    const f = field(label, key);
    fields[key] = f.value;
    list.append(f.node);
  }
  fields.score = el("strong", { class: "score-total" }, "–");
  fields.breakdown = el("ul", { class: "breakdown" });
  fields.why = el("ul", { class: "why" });
  fields.reason = el("p", { class: "reason", hidden: true });
  const title = el("h3", {}, vm.name);
  const chart = el("div", { class: "chart-box" });
  const history = el("div", { class: "chart-box" });
  const actions = el(
    "div",
    { class: "actions" },
    el("button", { type: "button", onclick: () => act(vm.id, "restart") }, "Restart"),
    el("button", { type: "button", onclick: () => act(vm.id, "stop") }, "Stop"),
    el("button", { type: "button", class: "danger", onclick: () => act(vm.id, "terminate") }, "Terminate"),
    el("button", { type: "button", onclick: () => openLogs(vm) }, "Logs"),
  );
  const root = el(
    "article",
    { class: "instance", "data-vm": vm.id, "aria-label": `instance ${vm.name}` },
    el("div", { class: "card-head" }, title, actions),
    fields.reason,
    list,
    el("div", { class: "score" }, el("span", {}, "Score "), fields.score, fields.breakdown),
    fields.why,
    chart,
    history,
  );
  return { root, fields, title, chart, history, chartKey: null };
}

function setText(node, value) {
  if (node.textContent !== value) node.textContent = value;
}

function renderCard(card, vm, miner, scores) {
  const f = card.fields;
  setText(card.title, vm.name);
  fill(f.vmStatus, badge(vm.status));
  fill(f.state, badge(vm.deploymentState || (miner ? miner.status : "none")));
  setText(f.publicIp, vm.publicIp || "–");
  if (vm.endpoint) {
    fill(f.endpoint, el("a", { href: vm.endpoint, rel: "noopener", target: "_blank" }, vm.endpoint));
  } else {
    setText(f.endpoint, "–");
  }
  setText(f.configuration, `${vm.configuration} · $${vm.pricePerEpochUsd}/epoch`);
  setText(f.uptime, miner ? duration(miner.uptimeSeconds) : "–");
  setText(f.requests, miner ? miner.requestCount.toLocaleString("en-US") : "–");
  setText(f.latency, miner ? millis(miner.avgResponseTimeMs) : "–");
  setText(f.restarts, miner ? String(miner.restarts) : "–");
  setText(f.availability, miner ? percent(miner.availability) : "–");
  say(f.reason, vm.statusReason || "");
  renderScore(card, scores);
  const key = miner && miner.requestCount > 0 ? miner.id : null;
  if (key) {
    const src = `/ui/charts/response-time.svg?miner=${encodeURIComponent(key)}&width=${chartWidth(card.chart, 360)}&t=${miner.requestCount}`;
    if (card.chartKey !== src) {
      card.chartKey = src;
      fill(card.chart, el("img", { src, alt: `Average response time of ${vm.name}`, class: "chart" }));
    }
  } else if (card.chartKey !== null) {
    card.chartKey = null;
    fill(card.chart);
  }
}

function renderScore(card, scores) {
  const f = card.fields;
  if (!scores) {
    setText(f.score, "–");
    fill(f.breakdown);
    fill(f.why);
    fill(card.history);
    return;
  }
  const c = scores.current;
  setText(f.score, score(c.total));
  fill(
    f.breakdown,
    ["quality", "speed", "availability", "participation"].map((k) =>
      el("li", {}, `${k} ${score(c[k])}`, el("span", { class: "muted" }, ` ×${c.weights[k] ?? ""}`)),
    ),
  );
  fill(f.why, (c.why || []).map((line) => el("li", {}, line)));
  const history = [...scores.history].reverse();
  if (history.length > 1) {
    fill(
      card.history,
      lineChart(
        [{ name: "score", points: history.map((h) => [h.epoch, h.total]) }],
        {
          title: "Score per epoch",
          yMax: 1,
          xLabels: [`#${history[0].epoch}`, `#${history.at(-1).epoch}`],
          width: chartWidth(card.history, 360),
        },
      ),
    );
  }
}

async function minerFigures(vm) {
  if (!vm.minerId) return [null, null];
  const miner = await api(`/miners/${encodeURIComponent(vm.minerId)}`).catch(() => null);
  let scores = null;
  try {
    scores = await api(`/miners/${encodeURIComponent(vm.minerId)}/scores`);
  } catch (error) {
    if (error.status !== 404) console.error("scores", error);
  }
  return [miner, scores];
}

async function refreshInstances() {
  const vms = (await api("/vms")).data;
  const container = $("instances");
  const figures = await Promise.all(vms.map(minerFigures));
  const seen = new Set();
  vms.forEach((vm, index) => {
    seen.add(vm.id);
    let card = cards.get(vm.id);
    if (!card) {
      card = newCard(vm);
      cards.set(vm.id, card);
    }
    renderCard(card, vm, ...figures[index]);
    if (container.children[index] !== card.root) container.insertBefore(card.root, container.children[index] || null);
  });
  for (const [id, card] of cards) {
    if (!seen.has(id)) {
      card.root.remove();
      cards.delete(id);
    }
  }
  $("instances-empty").hidden = vms.length > 0;
  stamp($("instances-updated"));
}

async function act(vmId, action) {
  const card = cards.get(vmId);
  const name = card ? card.title.textContent : vmId;
  if (action === "terminate" && !window.confirm(`Terminate ${name}? Its VM is released for good.`)) return;
  const calls = {
    restart: [`/vms/${vmId}/restart`, "POST"],
    stop: [`/vms/${vmId}/docker/stop`, "POST"],
    terminate: [`/vms/${vmId}`, "DELETE"],
  };
  const [path, method] = calls[action];
  try {
    await api(path, { method });
    if (action === "restart") track(vmId, name);
  } catch (error) {
    if (card) say(card.fields.reason, `${action} failed: ${error.message}`);
  }
  await refreshInstances();
}

// -- logs ----------------------------------------------------------------------------------

let logStream = null;

function openLogs(vm) {
  const dialog = $("logs-dialog");
  const output = $("logs-output");
  $("logs-name").textContent = vm.name;
  output.textContent = "";
  if (logStream) logStream.close();
  logStream = new EventSource(`/vms/${encodeURIComponent(vm.id)}/logs?follow=true&tail=200`);
  logStream.onmessage = (event) => {
    const atEnd = output.scrollTop + output.clientHeight >= output.scrollHeight - 4;
    output.append(`${event.data}\n`);
    if (atEnd) output.scrollTop = output.scrollHeight;
  };
  logStream.onerror = async () => {
    if (logStream.readyState !== EventSource.CLOSED) return; // the browser reconnects
    try {
      await api(`/vms/${encodeURIComponent(vm.id)}/logs?tail=1`);
    } catch (error) {
      output.append(`[${error.message}]\n`);
    }
  };
  dialog.showModal();
}

$("logs-close").addEventListener("click", () => $("logs-dialog").close());
$("logs-dialog").addEventListener("close", () => {
  if (logStream) logStream.close();
  logStream = null;
});

// -- create & deploy --------------------------------------------------------------------

const form = $("deploy-form");
const deployError = $("deploy-error");

function method() {
  return form.elements.method.value;
}

function showMethod() {
  for (const node of form.querySelectorAll("[data-method]")) node.hidden = node.dataset.method !== method();
}

function constraints() {
  const out = {};
  const config = form.elements.basicConfiguration.value;
  const cap = form.elements.maxTotalPricePerEpochUsd.value.trim();
  if (config) out.basicConfiguration = config;
  if (cap) out.maxTotalPricePerEpochUsd = cap;
  return out;
}

async function loadConfigurations() {
  const select = form.elements.basicConfiguration;
  const configs = (await api("/configurations")).data;
  fill(
    select,
    configs.map((c) =>
      el("option", { value: c.slug }, `${c.slug} — ${c.vcpus} vCPU, ${c.ramGb} GB RAM, $${c.pricePerEpochUsd}/epoch`),
    ),
  );
  await estimate();
}

async function estimate() {
  const out = $("estimate");
  try {
    const e = await api("/estimate", { method: "POST", body: { constraints: constraints(), instances: 1 } });
    out.classList.remove("error");
    out.textContent =
      `Estimate: $${e.totalPricePerEpoch} per epoch (${e.configuration})` +
      (e.maxPricePerEpoch !== null ? `, cap $${e.maxPricePerEpoch}` : "") +
      `; deposit ${e.depositAmountUsdc} USDC for ${e.depositEpochs} epochs.`;
  } catch (error) {
    out.classList.add("error");
    out.textContent = `Estimate: ${error.message}`;
  }
}

function deployBody() {
  const port = Number(form.elements.port.value);
  const name = form.elements.instanceName.value.trim();
  const body = {
    instanceName: name,
    constraints: constraints(),
    vmConfiguration: { name, openPorts: [{ port: 22, protocol: "tcp" }, { port, protocol: "tcp" }] },
  };
  if (method() === "builtin") {
    body.miner = { runtime: "builtin", models: [form.elements.model.value], port };
  } else if (method() === "url") {
    body.miner = { runtime: "docker", dockerfileUrl: form.elements.dockerfileUrl.value.trim(), port };
  }
  return body;
}

function checkForm() {
  if (!form.elements.instanceName.value.trim()) return "Instance name is required.";
  const port = Number(form.elements.port.value);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return "Port must be 1–65535.";
  if (method() === "url" && !form.elements.dockerfileUrl.value.trim()) return "Give the Dockerfile URL.";
  if (method() === "upload" && !form.elements.file.files.length) return "Choose a Dockerfile to upload.";
  return null;
}

async function deploy(event) {
  event.preventDefault();
  const problem = checkForm();
  say(deployError, problem);
  if (problem) return;
  const button = $("deploy-submit");
  button.disabled = true;
  try {
    const result = await api("/deploy", { method: "POST", body: deployBody() });
    const vmId = result.deployment.vmId;
    if (method() === "upload") {
      const upload = new FormData();
      upload.append("file", form.elements.file.files[0]);
      upload.append("port", form.elements.port.value);
      await api(`/vms/${vmId}/docker/upload`, { method: "POST", form: upload });
    }
    track(vmId, result.deployment.vmName);
    await refreshInstances();
  } catch (error) {
    say(deployError, error.message);
  } finally {
    button.disabled = false;
  }
}

let stopTracking = null;

/** Follow a VM's latest deployment live until it is healthy, failed or stopped. */
function track(vmId, name) {
  if (stopTracking) stopTracking();
  const panel = $("progress");
  panel.hidden = false;
  $("progress-name").textContent = name;
  fill($("progress-state"), badge("queued"));
  say($("progress-reason"), "");
  fill($("progress-events"));
  stopTracking = poll(async () => {
    const deployments = (await api(`/vms/${vmId}/deployments`)).data;
    if (!deployments.length) return;
    const latest = deployments[0];
    fill($("progress-state"), badge(latest.state));
    fill(
      $("progress-events"),
      latest.events.map((e) => el("li", {}, el("time", { datetime: e.at }, when(e.at, { seconds: true })), " ", badge(e.state), " ", e.message)),
    );
    say($("progress-reason"), latest.state === "failed" ? `Failed: ${latest.reason || "no reason given"}` : "");
    if (FINISHED.has(latest.state)) {
      stopTracking();
      stopTracking = null;
      await refreshInstances();
    }
  }, 1000);
}

let estimateTimer = null;
form.elements.maxTotalPricePerEpochUsd.addEventListener("input", () => {
  clearTimeout(estimateTimer);
  estimateTimer = setTimeout(estimate, 300);
});
form.addEventListener("submit", deploy);
form.addEventListener("change", (event) => {
  if (event.target.name === "method") showMethod();
  if (event.target.name === "basicConfiguration") estimate();
});
showMethod();
loadConfigurations().catch((error) => say(deployError, `configurations: ${error.message}`));

// -- session -----------------------------------------------------------------------------

onSession((session) => {
  $("signin-needed").hidden = Boolean(session);
  for (const id of ["deploy-submit"]) $(id).disabled = !session;
  if (stopPolling) stopPolling();
  stopPolling = null;
  if (session) {
    stopPolling = poll(refreshInstances, 3000);
  } else {
    for (const card of cards.values()) card.root.remove();
    cards.clear();
    $("instances-empty").hidden = false;
  }
});

