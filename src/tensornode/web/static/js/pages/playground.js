// Playground: chat with the network through the gateway (POST /api/chat), showing which
// miner answered, the miner's own time, the gateway's overhead and the round trip.

import { $, api, el, millis, say } from "/static/js/app.js";

const form = $("chat-form");
const log = $("chat-log");
const names = new Map();

async function minerName(id) {
  if (!names.has(id)) {
    const miner = await api(`/miners/${encodeURIComponent(id)}`).catch(() => null);
    names.set(id, miner ? miner.name : id);
  }
  return names.get(id);
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const prompt = form.elements.prompt.value.trim();
  if (!prompt) {
    say($("chat-error"), "Write a prompt first.");
    return;
  }
  say($("chat-error"), "");
  const body = {
    prompt,
    temperature: Number(form.elements.temperature.value),
    max_tokens: Number(form.elements.max_tokens.value),
  };
  log.append(el("li", { class: "msg user" }, el("span", { class: "who" }, "You"), el("p", {}, prompt)));
  const button = $("chat-send");
  button.disabled = true;
  const started = performance.now();
  try {
    const { data, response } = await api("/api/chat", { method: "POST", body, raw: true });
    const roundTrip = performance.now() - started;
    const overhead = Number(response.headers.get("X-TensorNode-Overhead-Ms"));
    const name = await minerName(data.miner_id);
    log.append(
      el(
        "li",
        { class: "msg miner", "data-miner": data.miner_id },
        el("span", { class: "who" }, `Miner ${name}`),
        el("p", {}, data.response),
        el(
          "p",
          { class: "meta" },
          `model ${data.model} · miner ${millis(data.processing_time * 1000)} · gateway overhead ${millis(overhead)} · round trip ${millis(roundTrip)}`,
        ),
      ),
    );
    form.elements.prompt.value = "";
  } catch (error) {
    log.append(el("li", { class: "msg error" }, el("span", { class: "who" }, "Gateway"), el("p", {}, error.message)));
  } finally {
    button.disabled = false;
    log.lastElementChild.scrollIntoView({ block: "nearest" });
  }
});
