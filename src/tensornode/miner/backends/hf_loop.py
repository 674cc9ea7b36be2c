"""A batched generation loop over a Hugging Face causal LM's forward pass.

``model.generate`` takes one set of sampling parameters for the whole batch; a miner's
batch mixes requests with their own temperature, seed, max_tokens and stop strings. So
this loop drives the forward pass itself: prompts left-padded into one batch, a KV
cache (``past_key_values``), position ids from the attention mask, and per-row
sampling with a per-row ``torch.Generator`` so a seeded request gets the same answer
alone or in any batch. Only imported by backends that already need torch.

Text is decoded as whole UTF-8 characters only: a byte-level tokenizer's token may hold
half a character, which decodes as U+FFFD; an incomplete character at the end is held
back until the token that completes it (or dropped when generation ends), and bytes that
never form a character are dropped. With a :data:`TextSink` each row's text is reported
as it grows, holding back what could still turn out to be the start of a stop string.
"""

from __future__ import annotations

import inspect
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from tensornode.miner.backends.base import GenerationRequest, GenerationResult, TextSink

REPLACEMENT = "\ufffd"


@dataclass
class _Row:
    """Generation state of one request in the batch."""

    request: GenerationRequest
    prompt_len: int
    budget: int  # tokens this row may still generate (max_tokens capped by the context)
    generator: torch.Generator
    tokens: list[int] = field(default_factory=list)
    done: bool = False
    finish_reason: str = "length"
    text: str | None = None


def _new_row(request: GenerationRequest, prompt_len: int, context_length: int) -> _Row:
    # torch takes 64-bit seeds; JSON integers are unbounded (and may be negative).
    seed = request.seed % (1 << 64) if request.seed is not None else secrets.randbits(63)
    generator = torch.Generator(device="cpu").manual_seed(seed)
    room = max(context_length - prompt_len, 0)
    return _Row(request, prompt_len, min(request.max_tokens, room), generator)


def _forward_kwargs(model: Any) -> tuple[str, dict[str, Any]]:
    """The KV-cache argument's name and extras, across transformers versions.

    transformers 5.x renamed ``past_key_values`` to ``cache`` (the old name warns), and
    ``logits_to_keep=1`` skips the LM head over the whole prompt where it exists.
    """
    params = inspect.signature(model.forward).parameters
    cache_arg = "cache" if "cache" in params else "past_key_values"
    extra: dict[str, Any] = {"logits_to_keep": 1} if "logits_to_keep" in params else {}
    return cache_arg, extra


def _pick_tokens(logits: torch.Tensor, rows: Sequence[_Row]) -> list[int]:
    """Next token per row: argmax at temperature 0, else inverse-CDF sampling.

    Each sampling row draws its uniform from its own generator, so its choice does not
    depend on which other rows share the batch.
    """
    logits = logits.float().cpu()
    picks: list[int] = torch.argmax(logits, dim=-1).tolist()
    sampled = [i for i, row in enumerate(rows) if not row.done and row.request.temperature > 0]
    if not sampled:
        return picks
    temps = torch.tensor([rows[i].request.temperature for i in sampled]).unsqueeze(-1)
    probs = torch.softmax(logits[sampled] / temps, dim=-1)
    cdf = torch.cumsum(probs, dim=-1)
    u = torch.cat([torch.rand(1, generator=rows[i].generator) for i in sampled]).unsqueeze(-1)
    chosen = torch.searchsorted(cdf, u * cdf[:, -1:]).squeeze(-1).clamp(max=probs.shape[-1] - 1)
    for i, token in zip(sampled, chosen.tolist(), strict=True):
        picks[i] = token
    return picks


def decode_text(tokenizer: Any, tokens: Sequence[int], *, final: bool) -> str:
    """The tokens' text in whole UTF-8 characters (see the module docstring); not
    ``final``: a trailing incomplete character is left out for now."""
    text: str = tokenizer.decode(
        tokens, skip_special_tokens=True, clean_up_tokenization_spaces=False
    )
    if REPLACEMENT not in text:
        return text
    if not final:
        text = text.rstrip(REPLACEMENT)
    return text.replace(REPLACEMENT, "")


def _stop_hit(text: str, stops: Sequence[str]) -> int | None:
    """Index of the earliest stop string in ``text``, or None."""
    hits = [i for i in (text.find(s) for s in stops if s) if i >= 0]
    return min(hits) if hits else None


def _advance(row: _Row, token: int, tokenizer: Any, eos_ids: set[int]) -> None:
    """Record ``token`` for ``row`` and mark it done on EOS, a stop string or its budget."""
    if not row.request.ignore_eos and token in eos_ids:
        row.done, row.finish_reason = True, "stop"
        return
    row.tokens.append(token)
    if row.request.stop:
        text = decode_text(tokenizer, row.tokens, final=False)
        cut = _stop_hit(text, row.request.stop)
        if cut is not None:
            row.done, row.finish_reason, row.text = True, "stop", text[:cut]
            return
    if len(row.tokens) >= row.budget:
        row.done = True
        row.finish_reason = "length" if row.budget == row.request.max_tokens else "context"


def generate_batch(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[list[int]],
    requests: Sequence[GenerationRequest],
    *,
    context_length: int,
    eos_ids: set[int],
    pad_id: int,
    sink: TextSink | None = None,
) -> list[GenerationResult]:
    """Generate for every (prompt ids, request) pair together; one result per request,
    each row's text reported to ``sink`` as it grows."""
    rows = [_new_row(r, len(p), context_length) for r, p in zip(requests, prompts, strict=True)]
    for row in rows:
        row.done = row.budget <= 0
        if row.done:
            row.finish_reason = "context"
    device = next(model.parameters()).device
    width = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for i, p in enumerate(prompts):
        ids[i, width - len(p) :] = torch.tensor(p, dtype=torch.long)
        mask[i, width - len(p) :] = 1
    ids, mask = ids.to(device), mask.to(device)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    cache_arg, extra = _forward_kwargs(model)
    past: Any = None
    with torch.inference_mode():
        while not all(row.done for row in rows):
            out = model(
                input_ids=ids,
                attention_mask=mask,
                position_ids=positions,
                use_cache=True,
                **{cache_arg: past},
                **extra,
            )
            past = getattr(out, cache_arg)
            picks = _pick_tokens(out.logits[:, -1, :], rows)
            for index, (row, token) in enumerate(zip(rows, picks, strict=True)):
                if not row.done:
                    _advance(row, token, tokenizer, eos_ids)
                    if sink is not None:
                        _report(row, index, tokenizer, sink)
            ids = torch.tensor(picks, dtype=torch.long, device=device).unsqueeze(-1)
            # Finished rows keep riding along; clamp so they never index past the context.
            positions = (positions[:, -1:] + 1).clamp(max=context_length - 1)
            mask = torch.cat([mask, torch.ones_like(ids)], dim=-1)
    return [_result(row, tokenizer) for row in rows]


def _report(row: _Row, index: int, tokenizer: Any, sink: TextSink) -> None:
    """Tell the sink the row's text so far; a row nobody waits for is done (cancelled)."""
    text = row.text
    if text is None:
        text = decode_text(tokenizer, row.tokens, final=row.done)
        if not row.done and row.request.stop:
            held = max(len(s) for s in row.request.stop) - 1
            text = text[: max(0, len(text) - held)]
    if not sink(index, text):
        row.done, row.finish_reason = True, "cancelled"


def _result(row: _Row, tokenizer: Any) -> GenerationResult:
    text = row.text
    if text is None:
        text = decode_text(tokenizer, row.tokens, final=True)
    return GenerationResult(
        text=text,
        prompt_tokens=row.prompt_len,
        completion_tokens=len(row.tokens),
        finish_reason=row.finish_reason,
    )
