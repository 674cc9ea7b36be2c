// Validator: recent rounds, each miner's results in a round with the evidence behind them,
// and the manual "question + expected answer" tool.

import { $, api, badge, el, fill, fillRows, millis, onSession, poll, say, score, stamp, when } from "/static/js/app.js";

let selected = null; // the round shown in "Per-miner results"
const names = new Map(); // miner id -> name

async function minerName(id) {
  if (!names.has(id)) {
    const miner = await api(`/miners/${encodeURIComponent(id)}`).catch(() => null);
    names.set(id, miner ? miner.name : id);
  }
  return names.get(id);
}

async function refreshRounds() {
  const empty = $("rounds-empty");
  let rounds;
  try {
    rounds = (await api("/validation/rounds?limit=20")).data;
  } catch (error) {
    if (!error.missingRoute) throw error;
    fill($("rounds"));
    say(empty, "Validation rounds are not published by this coordinator yet.");
    return;
  }
  say(empty, rounds.length ? "" : "No rounds yet: the validator runs one every few minutes.");
  fill(
    $("rounds"),
    el(
      "div",
      { class: "table-wrap" },
      el(
        "table",
        {},
        el("caption", { class: "visually-hidden" }, "Recent validation rounds"),
        el("thead", {}, el("tr", {}, ["Round", "Finished", "Subnet", "Validator", "Challenges", "Miners", ""].map((h) => el("th", { scope: "col" }, h)))),
        el(
          "tbody",
          {},
          rounds.map((round) =>
            el(
              "tr",
              { class: selected && selected.roundId === round.roundId ? "selected" : "" },
              el("td", {}, el("code", {}, round.roundId.slice(0, 10))),
              el("td", {}, when(round.finishedAt)),
              el("td", {}, round.subnet),
              el("td", {}, round.validator),
              el("td", {}, String(round.challenges)),
              el("td", {}, String(round.miners.length)),
              el("td", {}, el("button", { type: "button", onclick: () => showRound(round) }, "Results")),
            ),
          ),
        ),
      ),
    ),
  );
  if (!selected && rounds.length) await showRound(rounds[0]);
  stamp($("rounds-updated"));
}

async function showRound(round) {
  selected = round;
  $("results-round").textContent = `round ${round.roundId.slice(0, 10)} · ${when(round.finishedAt)}`;
  $("results-empty").hidden = round.miners.length > 0;
  const rows = await Promise.all(
    round.miners.map(async (m) => {
      const details = el("details", {}, el("summary", {}, "evidence"));
      details.addEventListener("toggle", () => details.open && loadEvidence(details, m.minerId, round.roundId), { once: true });
      return el(
        "tr",
        {},
        el("td", {}, el("span", { class: "name", title: m.minerId }, await minerName(m.minerId))),
        el("td", {}, `${m.passed}/${m.probes}`),
        el("td", {}, `${m.answered}/${m.probes}`),
        el("td", {}, score(m.quality)),
        el("td", {}, details),
      );
    }),
  );
  fill(
    $("results"),
    el(
      "div",
      { class: "table-wrap" },
      el(
        "table",
        {},
        el("caption", { class: "visually-hidden" }, "Each miner's results in the round"),
        el("thead", {}, el("tr", {}, ["Miner", "Passed", "Answered", "Quality", "Evidence"].map((h) => el("th", { scope: "col" }, h)))),
        el("tbody", {}, rows),
      ),
    ),
  );
}

async function loadEvidence(details, minerId, roundId) {
  const box = el("div", { class: "evidence" }, "loading…");
  details.append(box);
  try {
    const scores = await api(`/miners/${encodeURIComponent(minerId)}/scores?limit=200`);
    const items = scores.evidence.data.filter((e) => e.roundId === roundId);
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
                ` ${e.family} · score ${score(e.score)} · ${millis(e.latencyS === null ? null : e.latencyS * 1000)} · `,
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
    const table = el(
      "table",
      {},
      el("caption", { class: "visually-hidden" }, "Each miner's answer"),
      el("thead", {}, el("tr", {}, ["Miner", "Verdict", "Score", "Latency", "Answer", "Why"].map((h) => el("th", { scope: "col" }, h)))),
      el("tbody"),
    );
    fillRows(
      table.tBodies[0],
      result.data.map((r) => [
        el("span", { class: "name", title: r.minerId }, r.name),
        badge(r.verdict),
        score(r.score),
        millis(r.latencyS === null ? null : r.latencyS * 1000),
        r.answer || "–",
        `${r.reason} (${r.method})`,
      ]),
    );
    fill($("manual-results"), result.count ? el("div", { class: "table-wrap" }, table) : el("p", { class: "empty" }, "No miner serves this subnet right now."));
  } catch (error) {
    fill($("manual-results"));
    say($("manual-error"), error.missingRoute ? "Manual validation is not available on this coordinator yet." : error.message);
  } finally {
    button.disabled = false;
  }
});

onSession((session) => {
  form.querySelector("button[type=submit]").title = session ? "" : "sign in to send questions";
});
poll(refreshRounds, 5000);
