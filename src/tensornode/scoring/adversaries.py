"""Adversarial miners over one epoch: what does each way of cheating earn?

The population (real HTTP miners on loopback, :mod:`.sim`), each registered through
``POST /miners`` by its own owner and behaving during the registration check:

* ``honest-a``, ``honest-b``: solve every task, know the private bank's answers and
  answer users right; tens of ms per word, like a real model; they refuse requests the
  coordinator did not sign for them (the reference miner's ``miner.coordinator_key``);
* ``weak``: an honest tiny model: right on about half, slower;
* ``constant``, ``echo``, ``empty``: one fixed text, the prompt back, nothing;
* ``memoriser``: the answer key shipped in the package, nothing else;
* ``relay``: forwards every request, headers and all, to ``honest-a`` (a copier);
* ``probe-detector``: answers what looks like a validator's task right and users junk;
* ``stream-cheater``: answers every plain request right and every streamed one (which
  probes never are) with junk; it is caught by the sampled streams the gateway keeps
  for traffic grading and loses the share of users it failed;
* ``health-only``: ``/health`` fine, every chat 503.

:func:`run_epoch` runs rounds of the coordinator's own validator with user traffic
through the gateway in between, settles the epoch and reports each miner's reward next
to the honest solver's. ``bench/integrity.py`` prints it; ``tests/integrity`` asserts
the targets (each cheater <= 5% of the honest solver, an honest solver first, the copied
honest miner >= 95% of the other).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import zlib
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from tensornode.config import Settings
from tensornode.epochs.clock import epoch_at
from tensornode.net.signing import RequestVerifier
from tensornode.scoring.challenges import solve_prompt
from tensornode.scoring.challenges.open_questions import QuestionBank, find_question
from tensornode.scoring.grading import Embedder
from tensornode.scoring.sim import MinerFarm, Reply, ScriptedMiner

PRIVATE_BANK = (
    ("pb1", "What does a lighthouse keeper do?",
     "A lighthouse keeper tends the lighthouse, keeping its lamp lit and its lens clean so "
     "ships can navigate safely at night."),
    ("pb2", "Why do bakers let bread dough rest?",
     "Resting lets the yeast ferment and produce gas that makes the dough rise, and lets "
     "the gluten relax so the bread is light."),
    ("pb3", "What is a glacier?",
     "A glacier is a large, slowly moving mass of ice formed from snow compacted over many "
     "years on land."),
    ("pb4", "Why do we have leap years?",
     "Leap years add a day every four years because the Earth takes about 365 and a quarter "
     "days to orbit the Sun, keeping the calendar in step with the seasons."),
)  # fmt: skip
"""The operator's private open questions (a real network keeps these off the package)."""

USER_QUESTIONS = (
    ("Which planet is known as the red planet?", "Mars"),
    ("What is the largest ocean on Earth?", "The Pacific Ocean"),
    ("Who wrote the play Romeo and Juliet?", "William Shakespeare"),
    ("What gas do plants take in from the air?", "Carbon dioxide"),
    ("In which country is the city of Kyoto?", "Japan"),
    ("What is the boiling point of water at sea level in Celsius?", "100 degrees Celsius"),
    ("Which metal is liquid at room temperature?", "Mercury"),
    ("What is the capital city of Canada?", "Ottawa"),
    ("How many legs does a spider have?", "Eight"),
    ("What is the hardest natural substance?", "Diamond"),
    ("Which instrument has 88 keys?", "The piano"),
    ("What is the main language spoken in Brazil?", "Portuguese"),
)
"""What users ask the gateway in the scenario (no challenge template looks like these)."""

HONEST = ("honest-a", "honest-b")
CHEATERS = (
    "constant", "echo", "empty", "memoriser", "relay", "probe-detector", "health-only",
)  # fmt: skip
PARTIAL_CHEATERS = ("stream-cheater",)
"""Cheat on a share of users only: they lose that share of their reward (or more)."""
POPULATION = (*HONEST, "weak", *CHEATERS, *PARTIAL_CHEATERS)
TOKEN_DELAY_S = 0.02
"""Per word of an answer: tens of ms per token, like a real model."""
_CHECK_ANSWER = "4"  # what every miner says while the registration check runs


def private_bank() -> QuestionBank:
    from tensornode.scoring.challenges.open_questions import OpenQuestion

    return QuestionBank(tuple(OpenQuestion(i, q, r) for i, q, r in PRIVATE_BANK))


def write_bank(path: Path) -> Path:
    """The private bank as the JSONL file ``validator.question_bank`` names."""
    lines = [json.dumps({"id": i, "question": q, "reference": r}) for i, q, r in PRIVATE_BANK]
    path.write_text("\n".join(lines) + "\n")
    return path


def _user_answer(prompt: str) -> str | None:
    return next((a for q, a in USER_QUESTIONS if q in prompt), None)


def solver(tag: str) -> Callable[[str], str]:
    """A capable model: tasks solved, bank questions answered in its own words, users
    answered right."""
    bank = private_bank()

    def answer(prompt: str) -> str:
        if "2 + 2" in prompt:
            return _CHECK_ANSWER
        item = bank.find(prompt)
        if item is not None:
            return f"{item.reference} ({tag})"
        return solve_prompt(prompt) or _user_answer(prompt) or "I am not sure."

    return answer


def _weak(prompt: str) -> str:
    """Right about half the time (the same half every time), as a tiny model is."""
    if zlib.crc32(prompt.encode()) % 2:
        return "I think the answer is seven."
    return solver("weak")(prompt)


def _memoriser(prompt: str) -> str:
    item = find_question(prompt)  # the answer key shipped in the package
    return item.reference if item else "I do not know."


def _probe_detector(prompt: str) -> str:
    """Looks like a validator's task (a template or a framing)? Answer it right."""
    looks_like_probe = solve_prompt(prompt) is not None or private_bank().find(prompt)
    return solver("pd")(prompt) if looks_like_probe else "Sorry, I cannot help with that."


@dataclass
class Adversary:
    """One miner of the scenario; cheaters behave until ``armed`` (after registration)."""

    name: str
    miner: ScriptedMiner
    armed: bool = False
    url: str = ""
    miner_id: str = ""
    owner: str = ""


def _armed(adv: list[Adversary], cheat: Callable[[str], str]) -> Callable[[str], str]:
    def answer(prompt: str) -> str:
        return cheat(prompt) if adv and adv[0].armed else _CHECK_ANSWER

    return answer


def _relay_to(target: list[str], http: httpx.AsyncClient) -> Callable[..., Awaitable[Reply]]:
    async def relay(body: Mapping[str, Any], headers: Mapping[str, str], raw: bytes) -> Reply:
        passed = {k: v for k, v in headers.items() if k not in ("host", "content-length")}
        resp = await http.post(target[0] + "/api/chat", content=raw, headers=passed)
        try:
            data = resp.json()
        except ValueError:
            data = {"error": "bad answer"}
        return resp.status_code, data if isinstance(data, dict) else {"error": "bad answer"}

    return relay


def population() -> dict[str, Adversary]:
    """The scenario's miners (not serving yet)."""
    out: dict[str, Adversary] = {}

    def add(name: str, miner: ScriptedMiner) -> Adversary:
        out[name] = Adversary(name, miner)
        return out[name]

    for name in HONEST:
        add(name, ScriptedMiner(answer=solver(name), token_delay_s=TOKEN_DELAY_S))
    add("weak", ScriptedMiner(answer=_weak, token_delay_s=2 * TOKEN_DELAY_S))
    cheats: dict[str, Callable[[str], str]] = {
        "constant": lambda p: "Thank you for your question.",
        "echo": lambda p: p,
        "empty": lambda p: "",
        "memoriser": _memoriser,
        "probe-detector": _probe_detector,
    }
    for name, cheat in cheats.items():
        holder: list[Adversary] = []
        miner = ScriptedMiner(answer=_armed(holder, cheat), token_delay_s=TOKEN_DELAY_S)
        holder.append(add(name, miner))
    add("relay", ScriptedMiner(answer=solver("relay")))  # relays once armed
    add("health-only", ScriptedMiner(answer=lambda p: _CHECK_ANSWER))
    add("stream-cheater", ScriptedMiner(answer=solver("sc"), token_delay_s=TOKEN_DELAY_S))
    return out


def _stream_cheater(honest: ScriptedMiner) -> Callable[..., Awaitable[Reply]]:
    async def serve(body: Mapping[str, Any], headers: Mapping[str, str], raw: bytes) -> Reply:
        if body.get("stream"):
            return 200, {"response": "Sorry, I cannot help with that.", "model": "scripted"}
        return await honest.chat(body, headers, raw)

    return serve


async def _unavailable(body: Mapping[str, Any], headers: Mapping[str, str], raw: bytes) -> Reply:
    return 503, {"error": "model unavailable"}


def arm(miners: Mapping[str, Adversary], http: httpx.AsyncClient) -> None:
    """Registration is over: every cheater starts cheating (``http``: the relay's client)."""
    for adv in miners.values():
        adv.armed = True
    miners["relay"].miner.handler = _relay_to([miners["honest-a"].url], http)
    miners["health-only"].miner.handler = _unavailable
    cheater = miners["stream-cheater"].miner
    cheater.handler = _stream_cheater(replace(cheater, handler=None))


@dataclass(frozen=True)
class MinerOutcome:
    name: str
    reward: int
    share_of_honest: float
    total: float
    consistency: float
    traffic: int
    traffic_passed: int
    rank: int
    why: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class EpochOutcome:
    epoch: int
    emission: int
    rounds: int
    user_requests: int
    miners: dict[str, MinerOutcome]
    served: dict[str, int]  # user requests answered, by miner name


async def _register(client: httpx.AsyncClient, adv: Adversary) -> None:
    resp = await client.post(
        "/miners",
        json={"endpoint": adv.url, "name": adv.name},
        headers={"X-Wallet-Address": adv.owner},
    )
    if resp.status_code != 201:
        raise RuntimeError(f"registering {adv.name} failed: {resp.status_code} {resp.text}")
    adv.miner_id = resp.json()["id"]


async def _user_traffic(client: httpx.AsyncClient, count: int, start: int) -> list[str]:
    """``count`` user questions through the gateway, two in three streamed; who answered
    each."""
    served = []
    for i in range(start, start + count):
        question, _ = USER_QUESTIONS[i % len(USER_QUESTIONS)]
        body = {"prompt": question, "max_tokens": 64, "stream": i % 3 != 0}
        resp = await client.post("/api/chat", json=body)
        if resp.status_code == 200:
            served.append(resp.headers.get("x-tensornode-miner-id", ""))
    return served


def scenario_settings(settings: Settings, bank: Path) -> Settings:
    """``settings`` with the scenario's knobs: the private bank, every answered user
    request sampled, no gateway rate limit, scores refreshed by the runner."""
    validator = settings.validator.model_copy(
        update={"question_bank": bank, "traffic_sample_rate": 1.0, "traffic_per_round": 256}
    )
    gateway = settings.gateway.model_copy(
        update={"rate_limit_per_min": 1_000_000.0, "score_refresh_s": 3600.0}
    )
    return settings.model_copy(update={"validator": validator, "gateway": gateway})


async def run_epoch(
    settings: Settings,
    *,
    rounds: int = 3,
    user_requests: int = 36,
    embedder: Embedder | None = None,
    progress: Callable[[str], None] | None = None,
) -> EpochOutcome:
    """The whole scenario against a fresh coordinator built from ``settings`` (dev mode,
    loops off: the runner drives the passes); see the module docstring."""
    from tensornode.coordinator.app import build_app

    say = progress or (lambda _: None)
    settings = scenario_settings(settings, write_bank(settings.ensure_data_dir() / "bank.jsonl"))
    app = build_app(settings)
    miners = population()
    base = 700_000 + secrets.randbelow(10**8)
    async with (
        MinerFarm() as farm,
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1"
        ) as client,
        httpx.AsyncClient() as relay_http,
    ):
        runtime = app.state.validation
        if embedder is not None:
            runtime.use_embedder(embedder)
        for i, adv in enumerate(miners.values()):
            adv.url = await farm.add(adv.name, adv.miner)
            adv.owner = f"0.0.{base + i}"
        for name in HONEST:  # the reference miner's relay protection
            miners[name].miner.verifier = RequestVerifier(
                runtime.signer.public_key, miners[name].url
            )
        say("registering miners through POST /miners")
        await asyncio.gather(*(_register(client, adv) for adv in miners.values()))
        arm(miners, relay_http)
        served, finished = await _drive(app, client, rounds, user_requests, say)
        say("settling the epoch")
        window = epoch_at(finished[-1], settings.rewards.epoch_seconds)
        reports = await runtime.epochs.run_once(now=window.ends_at + timedelta(seconds=1))
        report = next(r for r in reports if r.epoch == window.number)
        outcome = await _outcome(client, miners, report, window.number)
    names = {adv.miner_id: adv.name for adv in miners.values()}
    return EpochOutcome(
        epoch=window.number,
        emission=report.emission,
        rounds=rounds,
        user_requests=user_requests,
        miners=outcome,
        served={names.get(m, m): n for m, n in served.items()},
    )


async def _drive(
    app: Any, client: httpx.AsyncClient, rounds: int, user_requests: int, say: Callable[[str], None]
) -> tuple[Counter[str], list[datetime]]:
    """Rounds with user traffic in between (each round grades the traffic before it)."""
    from tensornode.gateway.scores import ValidatorScores

    runtime, gateway, monitor = app.state.validation, app.state.gateway, app.state.monitor
    served: Counter[str] = Counter()
    finished = []
    per_round = max(1, user_requests // max(1, rounds - 1))
    await monitor.run_once()
    for number in range(rounds):
        say(f"validator round {number + 1} of {rounds}")
        (stored,) = await runtime.validator_loop.run_once()
        finished.append(stored.finished_at)
        await monitor.run_once()
        if isinstance(gateway.pool.scores, ValidatorScores):
            await gateway.pool.scores.refresh_now()
        await gateway.pool.refresh()
        if number < rounds - 1:
            say(f"{per_round} user requests through the gateway")
            served.update(await _user_traffic(client, per_round, number * per_round))
    return served, finished


async def _outcome(
    client: httpx.AsyncClient, miners: Mapping[str, Adversary], report: Any, epoch: int
) -> dict[str, MinerOutcome]:
    paid: Counter[str] = Counter()
    for payout in report.payouts:
        if payout.kind == "miner":
            paid[payout.account] += payout.amount
    totals = {m.miner_id: m.total for m in report.miners}
    order = sorted(miners.values(), key=lambda a: (-totals.get(a.miner_id, 0.0), a.name))
    rank = {adv.name: i for i, adv in enumerate(order, start=1)}
    reference = paid[miners["honest-b"].owner] or 1
    out = {}
    for adv in miners.values():
        scores = await client.get(f"/miners/{adv.miner_id}/scores", params={"epoch": epoch})
        current = scores.json()["current"]
        out[adv.name] = MinerOutcome(
            name=adv.name,
            reward=paid[adv.owner],
            share_of_honest=paid[adv.owner] / reference,
            total=totals.get(adv.miner_id, 0.0),
            consistency=current["consistency"],
            traffic=current["traffic"],
            traffic_passed=current["trafficPassed"],
            rank=rank[adv.name],
            why=current["why"],
        )
    return out
