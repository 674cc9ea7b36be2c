// Validator: recent rounds, each miner's results in a round with the evidence behind them,
// and the manual "question + expected answer" tool.
//
// Rounds come from GET /validation/rounds where the coordinator lists them; otherwise they
// are gathered from the evidence of the leaderboard's miners (GET /miners/{id}/scores),
// which names each probe's round.

import { $, api, badge, el, fill, fillRows, millis, onSession, poll, say, score, stamp, when } from "/static/js/app.js";

const subnet = $("manual-subnet");
let selectedId = null;
const names = new Map(); // miner id -> name
const evidence = new Map(); // round id -> miner id -> [evidence]

async function minerName(id) {
  if (!names.has(id)) {
    const miner = await api(`/miners/${encodeURIComponent(id)}`).catch(() => null);
    names.set(id, miner ? miner.name : id);
  }
  return names.get(id);
}

function latency(seconds) {
  return millis(seconds === null || seconds === undefined ? null : seconds * 1000);
}

/** Rounds rebuilt from the probes behind the current epoch's scores, newest first. */
async function roundsFromEvidence() {
  const board = await api(`/leaderboard?subnet=${encodeURIComponent(subnet.value)}`);
  const rounds = new Map();
  evidence.clear();
  for (const row of board.data) {
    names.set(row.minerId, row.name);
    const scores = await api(`/miners/${encodeURIComponent(row.minerId)}/scores?limit=200`);
    for (const e of scores.evidence.data) {
      let round = rounds.get(e.roundId);
      if (!round) {
        round = { roundId: e.roundId, subnet: board.subnet, finishedAt: e.at, validator: "–", challenges: new Set(), byMiner: new Map() };
        rounds.set(e.roundId, round);
      }
      if (e.at > round.finishedAt) round.finishedAt = e.at;
      round.challenges.add(e.challengeId);
      const list = round.byMiner.get(row.minerId) || [];
      list.push(e);
      round.byMiner.set(row.minerId, list);
    }
  }
  const out = [];
  for (const round of rounds.values()) {
    evidence.set(round.roundId, round.byMiner);
    const miners = [...round.byMiner].map(([minerId, items]) => ({
      minerId,
      probes: items.length,
      answered: items.filter((e) => e.status === "ok").length,
      passed: items.filter((e) => e.verdict === "pass").length,
      quality: items.reduce((sum, e) => sum + e.score, 0) / items.length,
    }));
    out.push({ ...round, challenges: round.challenges.size, miners });
  }
  return out.sort((a, b) => (a.finishedAt < b.finishedAt ? 1 : -1)).slice(0, 20);
}

let clock = null; // the running epoch's window, to tell which epoch a round fell in

/** The epoch number of an ISO time, from the running epoch's window (null if unknown). */
function epochOf(iso) {
  if (!clock) return null;
  const start = new Date(clock.startsAt).getTime();
  const length = new Date(clock.endsAt).getTime() - start;
  if (!(length > 0)) return null;
  return clock.number + Math.floor((new Date(iso).getTime() - start) / length);
}

async function loadRounds() {
  clock = await api("/epochs?limit=1").then((e) => e.current, () => null);
  try {
    return (await api(`/validation/rounds?subnet=${encodeURIComponent(subnet.value)}&limit=20`)).data;
  } catch (error) {
    if (!error.missingRoute) throw error;
    return roundsFromEvidence();
  }
}

async function refreshRounds() {
  const rounds = await loadRounds();
  say($("rounds-empty"), rounds.length ? "" : "No rounds yet in this epoch: the validator runs one every few minutes.");
  const head = ["Round", "Finished", "Subnet", "Validator", "Challenges", "Miners", ""];
  fill(
    $("rounds"),
    rounds.length
      ? el(
          "div",
          { class: "table-wrap" },
          el(
            "table",
            {},
            el("caption", { class: "visually-hidden" }, "Recent validation rounds"),
            el("thead", {}, el("tr", {}, head.map((h) => el("th", { scope: "col" }, h)))),
            el(
              "tbody",
              {},
              rounds.map((round) =>
                el(
                  "tr",
                  { class: selectedId === round.roundId ? "selected" : "" },
                  el("td", {}, el("code", { title: round.roundId }, round.roundId.slice(0, 10))),
                  el("td", {}, when(round.finishedAt, { seconds: true })),
                  el("td", {}, round.subnet),
                  el("td", {}, round.validator),
                  el("td", {}, String(round.challenges)),
                  el("td", {}, String(round.miners.length)),
                  el("td", {}, el("button", { type: "button", onclick: () => showRound(round) }, "Results")),
                ),
              ),
            ),
          ),
        )
      : null,
  );
  const current = rounds.find((r) => r.roundId === selectedId) || rounds[0];
  if (current) await showRound(current);
  stamp($("rounds-updated"));
}

async function showRound(round) {
  const changed = selectedId !== round.roundId;
  selectedId = round.roundId;
  for (const row of $("rounds").querySelectorAll("tbody tr")) {
    row.classList.toggle("selected", row.querySelector("code").title === round.roundId);
  }
  if (!changed && $("results").childElementCount) return; // keep open evidence as it is
  $("results-round").textContent = `round ${round.roundId.slice(0, 10)} · ${when(round.finishedAt, { seconds: true })}`;
  $("results-empty").hidden = round.miners.length > 0;
  const rows = await Promise.all(
    round.miners.map(async (m) => {
      const details = el("details", {}, el("summary", {}, "evidence"));
      details.addEventListener("toggle", () => loadEvidence(details, m.minerId, round), { once: true });
      return el(
        "tr",
        { "data-miner": m.minerId },
        el("td", {}, el("span", { class: "name", title: m.minerId }, await minerName(m.minerId))),
        el("td", {}, `${m.passed}/${m.probes}`),
        el("td", {}, `${m.answered}/${m.probes}`),
        el("td", {}, score(m.quality)),
        el("td", {}, details),
      );
    }),
  );
  const head = ["Miner", "Passed", "Answered", "Quality", "Evidence"];
  fill(
    $("results"),
    el(
      "div",
      { class: "table-wrap" },
      el(
        "table",
        {},
        el("caption", { class: "visually-hidden" }, "Each miner's results in the round"),
        el("thead", {}, el("tr", {}, head.map((h) => el("th", { scope: "col" }, h)))),
        el("tbody", {}, rows),
      ),
    ),
  );
}

/** The round's evidence for one miner, from the epoch(s) the round ran in. */
async function roundEvidence(minerId, round) {
  const cached = evidence.get(round.roundId)?.get(minerId);
  if (cached) return cached;
  const epochs = [...new Set([epochOf(round.startedAt || round.finishedAt), epochOf(round.finishedAt)])];
  for (const epoch of epochs) {
    const query = epoch === null ? "limit=200" : `limit=200&epoch=${epoch}`;
    const scores = await api(`/miners/${encodeURIComponent(minerId)}/scores?${query}`);
    const items = scores.evidence.data.filter((e) => e.roundId === round.roundId);
    if (items.length) return items;
  }
  return [];
}

async function loadEvidence(details, minerId, round) {
  const box = el("div", { class: "evidence" }, "loading…");
  details.append(box);
  try {
    const items = await roundEvidence(minerId, round);
    fill(
      box,
      items.length
        ? el(
            "ul",
            {},
            items.map((e) =>
              el(
                "li",
                {},
                badge(e.verdict),
                ` ${e.family} · score ${score(e.score)} · ${latency(e.latencyS)} · `,
                el("span", { class: "muted" }, e.reason),
                e.answer ? el("blockquote", {}, e.answer) : null,
                el("div", { class: "hash", title: "challenge hash (revealed after the epoch)" }, e.challengeHash),
              ),
            ),
          )
        : "No evidence kept for this round.",
    );
  } catch (error) {
    fill(box, error.message);
  }
}

// -- manual validation ------------------------------------------------------------------

const form = $("manual-form");

function manualTable(result) {
  const head = ["Miner", "Verdict", "Score", "Latency", "Answer", "Why"];
  const table = el(
    "table",
    {},
    el("caption", { class: "visually-hidden" }, "Each miner's answer"),
    el("thead", {}, el("tr", {}, head.map((h) => el("th", { scope: "col" }, h)))),
    el("tbody"),
  );
  fillRows(
    table.tBodies[0],
    result.data.map((r) => [
      el("span", { class: "name", title: r.minerId }, r.name),
      badge(r.verdict),
      score(r.score),
      latency(r.latencyS),
      r.answer || "–",
      `${r.reason} (${r.method})`,
    ]),
  );
  return el("div", { class: "table-wrap" }, table);
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const body = {
    question: form.elements.question.value.trim(),
    expected: form.elements.expected.value.trim(),
    subnet: form.elements.subnet.value,
    method: form.elements.method.value,
  };
  if (!body.question || !body.expected) {
    say($("manual-error"), "Give a question and its expected answer.");
    return;
  }
  say($("manual-error"), "");
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  fill($("manual-results"), el("p", { class: "muted" }, "asking every miner…"));
  try {
    const result = await api("/validation/manual", { method: "POST", body });
    fill($("manual-results"), result.count ? manualTable(result) : el("p", { class: "empty" }, "No miner serves this subnet right now."));
  } catch (error) {
    fill($("manual-results"));
    say($("manual-error"), error.missingRoute ? "Manual validation is not available on this coordinator yet." : error.message);
  }
  button.disabled = false;
});

onSession((session) => {
  form.querySelector("button[type=submit]").title = session ? "" : "sign in as a validator to send questions";
});
poll(refreshRounds, 5000);
