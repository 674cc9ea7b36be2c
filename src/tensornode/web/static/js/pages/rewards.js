// Rewards: settled epochs, one epoch's payouts (from its report), the caller's earnings.

import { $, amount, api, badge, chartWidth, el, fill, fillRows, onSession, pick, poll, say, score, when } from "/static/js/app.js";
import { lineChart } from "/static/js/chart.js";

let shownEpoch = null;
let pinned = false; // the user picked an epoch: stop following the newest
let account = null;

async function refreshEpochs() {
  const empty = $("epochs-empty");
  let epochs;
  try {
    epochs = await api("/epochs?limit=50");
  } catch (error) {
    if (!error.missingRoute) throw error;
    say(empty, "Epochs are not published by this coordinator yet.");
    return;
  }
  const current = epochs.current;
  say(
    empty,
    epochs.data.length ? "" : `No epoch settled yet. Epoch #${current.number} ends ${when(current.endsAt)}.`,
  );
  fillRows(
    $("epochs").tBodies[0],
    epochs.data.map((e) => [
      `#${e.number}`,
      `${when(e.startsAt)} → ${when(e.endsAt)}`,
      badge(e.status),
      amount(e.emission, e.unit),
      e.miners === null ? "–" : String(e.miners),
      el("button", { type: "button", onclick: () => pin(e.number) }, "Payouts"),
    ]),
  );
  const newest = epochs.data.length ? epochs.data[0].number : null;
  if (!pinned && newest !== null && newest !== shownEpoch) await showEpoch(newest);
}

function pin(number) {
  pinned = true;
  return showEpoch(number);
}

async function showEpoch(number) {
  shownEpoch = number;
  const report = await api(`/epochs/${number}`);
  const body = pick(report, "report") || report;
  $("payouts-epoch").textContent = `epoch #${number}`;
  const scores = new Map();
  for (const m of pick(body, "miners") || []) {
    const owner = pick(m, "account", "owner");
    scores.set(owner, Math.max(scores.get(owner) ?? 0, pick(m, "total") ?? 0));
  }
  const payouts = pick(body, "payouts") || [];
  fillRows(
    $("payouts").tBodies[0],
    payouts.map((p) => {
      const who = pick(p, "account");
      const mine = who === account;
      return [
        el("span", { class: mine ? "name mine" : "name" }, mine ? `${who} (you)` : who),
        pick(p, "kind"),
        amount(pick(p, "amount")),
        pick(p, "kind") === "miner" ? score(scores.get(who) ?? null) : "–",
      ];
    }),
  );
  say($("payouts-empty"), payouts.length ? "" : "This epoch paid nothing.");
}

async function refreshEarnings() {
  if (!account) return;
  let rewards;
  try {
    rewards = await api(`/rewards?account=${encodeURIComponent(account)}`);
  } catch (error) {
    if (!error.missingRoute) throw error;
    fill($("earnings-chart"), el("p", { class: "empty" }, "Earnings are not published by this coordinator yet."));
    return;
  }
  $("earned-total").textContent = amount(rewards.total, rewards.unit);
  const byEpoch = new Map();
  for (const r of rewards.data) byEpoch.set(r.epoch, (byEpoch.get(r.epoch) ?? 0) + r.amount);
  const epochs = [...byEpoch.keys()].sort((a, b) => a - b);
  $("earned-epochs").textContent = String(epochs.length);
  $("earned-last").textContent = epochs.length ? amount(byEpoch.get(epochs.at(-1)), rewards.unit) : "–";
  const scale = rewards.unit === "tinybar" ? 1e8 : 1;
  fill(
    $("earnings-chart"),
    epochs.length
      ? lineChart([{ name: "earned", points: epochs.map((n) => [n, byEpoch.get(n) / scale]) }], {
          title: `Earned per epoch (${rewards.unit === "tinybar" ? "HBAR" : rewards.unit})`,
          xLabels: [`#${epochs[0]}`, `#${epochs.at(-1)}`],
          width: chartWidth($("earnings-chart")),
        })
      : el("p", { class: "empty" }, "Nothing earned yet: deploy a miner and keep it healthy through an epoch."),
  );
}

onSession((session) => {
  account = session ? session.accountId : null;
  $("signin-needed").hidden = Boolean(session);
  if (!session) {
    for (const id of ["earned-total", "earned-last", "earned-epochs"]) $(id).textContent = "–";
    fill($("earnings-chart"));
  }
  refreshEarnings().catch((error) => console.error(error));
});
poll(refreshEpochs, 10000);
poll(refreshEarnings, 10000);
