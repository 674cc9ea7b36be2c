// Overview: miners, healthy share, requests, the epoch and the leaderboard, polled.

import { $, api, badge, chartWidth, duration, el, fill, fillRows, millis, percent, poll, say, score } from "/static/js/app.js";

const subnet = $("leaderboard-subnet");
let chartMiners = "";

async function refreshMiners() {
  const miners = (await api("/miners?limit=500")).data;
  const live = miners.filter((m) => m.status !== "stopped" && m.status !== "deregistered");
  const healthy = live.filter((m) => m.status === "active").length;
  const requests = miners.reduce((sum, m) => sum + m.requestCount, 0);
  const timed = miners.filter((m) => m.avgResponseTimeMs !== null && m.requestCount > 0);
  const avg = timed.length
    ? timed.reduce((sum, m) => sum + m.avgResponseTimeMs * m.requestCount, 0) /
      timed.reduce((sum, m) => sum + m.requestCount, 0)
    : null;
  $("stat-miners").textContent = String(live.length);
  $("stat-healthy").textContent = live.length ? `${healthy} (${percent(healthy / live.length)})` : "–";
  $("stat-requests").textContent = requests.toLocaleString("en-US");
  $("stat-latency").textContent = millis(avg);
  fillRows(
    $("miners").tBodies[0],
    live.map((m) => [
      el("span", { class: "name", title: m.id }, m.name),
      badge(m.status),
      m.subnet,
      duration(m.uptimeSeconds),
      m.requestCount.toLocaleString("en-US"),
      millis(m.avgResponseTimeMs),
      percent(m.availability),
    ]),
  );
  $("miners-empty").hidden = live.length > 0;
  const ids = live.filter((m) => m.requestCount > 0).slice(0, 6).map((m) => m.id);
  const box = $("latency-chart");
  const query = ids.length
    ? `${ids.map((id) => `miner=${encodeURIComponent(id)}`).join("&")}&width=${chartWidth(box)}`
    : "";
  if (query !== chartMiners) {
    chartMiners = query;
    fill(
      box,
      query
        ? el("img", { src: `/ui/charts/response-time.svg?${query}&t=${Date.now()}`, alt: "Average response time per miner over the last hour", class: "chart" })
        : el("p", { class: "empty" }, "No requests served yet: try the Playground."),
    );
  } else if (query) {
    box.querySelector("img").src = `/ui/charts/response-time.svg?${query}&t=${Date.now()}`;
  }
}

async function refreshEpoch() {
  try {
    const epochs = await api("/epochs?limit=1");
    const current = epochs.current;
    const left = (new Date(current.endsAt).getTime() - Date.now()) / 1000;
    fill($("stat-epoch"), `#${current.number}`, el("small", {}, `${duration(left)} left`));
  } catch (error) {
    if (!error.missingRoute) throw error;
    $("stat-epoch").textContent = "not running";
  }
}

async function refreshLeaderboard() {
  const empty = $("leaderboard-empty");
  const tbody = $("leaderboard").tBodies[0];
  try {
    const board = await api(`/leaderboard?subnet=${encodeURIComponent(subnet.value)}`);
    fillRows(
      tbody,
      board.data.map((row) => [
        String(row.rank),
        el("span", { class: "name", title: row.minerId }, row.name),
        el("strong", {}, score(row.total)),
        score(row.quality),
        score(row.speed),
        score(row.availability),
        score(row.participation),
      ]),
    );
    say(empty, board.data.length ? "" : "No scored miners in this epoch yet.");
  } catch (error) {
    if (!error.missingRoute) throw error;
    fill(tbody);
    say(empty, "Scores appear here once the validator has run on this network.");
  }
}

subnet.addEventListener("change", () => refreshLeaderboard());
poll(refreshMiners, 3000);
poll(refreshEpoch, 10000);
poll(refreshLeaderboard, 5000);
