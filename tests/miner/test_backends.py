"""Backends on their own: spec parsing, the tiny model generating, transformers on its dir."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from tensornode.errors import ConfigurationError
from tensornode.miner.backends import ModelSpec, parse_model_spec
from tensornode.miner.backends.base import GenerationRequest
from tensornode.miner.backends.echo import EchoBackend
from tensornode.miner.backends.tiny import TinyBackend, ensure_tiny_model, tiny_model_dir
from tensornode.miner.backends.transformers_backend import TransformersBackend


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("llm=tiny", ModelSpec("llm", "tiny", "")),
        ("tiny", ModelSpec("llm", "tiny", "")),
        ("code=transformers:/models/qwen", ModelSpec("code", "transformers", "/models/qwen")),
        (
            "code=transformers:Qwen/Qwen2.5-0.5B",
            ModelSpec("code", "transformers", "Qwen/Qwen2.5-0.5B"),
        ),
        (
            "llm=openai:http://host:8000/v1#meta/llama-3",
            ModelSpec("llm", "openai", "http://host:8000/v1#meta/llama-3"),
        ),
        ("qa=echo", ModelSpec("qa", "echo", "")),
    ],
)
def test_parse_model_spec(spec: str, expected: ModelSpec) -> None:
    assert parse_model_spec(spec) == expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("llm=gpt5", "unknown backend 'gpt5' in 'llm=gpt5'; known: echo, openai, "),
        ("LLM=tiny", "bad model type 'LLM' in 'LLM=tiny'"),
        ("=tiny", "bad model type '' in '=tiny'"),
    ],
)
def test_parse_model_spec_rejects(spec: str, message: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        parse_model_spec(spec)
    assert caught.value.message.startswith(message)


@pytest.fixture(scope="module")
def tiny(tiny_data_dir: Path) -> TinyBackend:
    backend = TinyBackend(tiny_data_dir)
    backend.load()
    return backend


def _req(prompt: str, **kw: object) -> GenerationRequest:
    params: dict[str, object] = {"max_tokens": 24, "temperature": 0.8, "ignore_eos": True}
    params.update(kw)
    return GenerationRequest(prompt, **params)  # type: ignore[arg-type]


def test_tiny_build_is_cached_and_describes_itself(tiny: TinyBackend, tiny_data_dir: Path) -> None:
    path = tiny_model_dir(tiny_data_dir)
    assert ensure_tiny_model(tiny_data_dir) == path
    assert (path / "model.safetensors").is_file()
    assert (path / "tokenizer.json").is_file()
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no temp dirs left
    info = tiny.info()
    assert info.model_name == "tiny-v2"
    assert info.context_length == 512
    assert info.device == "cpu"
    assert info.weights_sha256 is not None and len(info.weights_sha256) == 64


def test_tiny_generates_exactly_max_tokens(tiny: TinyBackend) -> None:
    [result] = tiny.generate_batch([_req("Question: What is the capital of France?")])
    assert result.completion_tokens == 24
    assert result.finish_reason == "length"
    assert result.prompt_tokens == tiny.count_tokens("Question: What is the capital of France?")
    assert result.text.strip()


def test_tiny_same_seed_same_answer_other_seed_differs(tiny: TinyBackend) -> None:
    a = tiny.generate_batch([_req("Once upon a time", seed=7)])[0]
    b = tiny.generate_batch([_req("Once upon a time", seed=7)])[0]
    c = tiny.generate_batch([_req("Once upon a time", seed=8)])[0]
    assert a == b
    assert a.text != c.text


def test_tiny_takes_any_integer_seed(tiny: TinyBackend) -> None:
    for seed in (-1, 2**70, 0):
        [result] = tiny.generate_batch([_req("Seeds", seed=seed, max_tokens=4)])
        assert result.completion_tokens == 4


def test_tiny_batch_equals_one_by_one(tiny: TinyBackend) -> None:
    requests = [
        _req("Hello", temperature=0.0, max_tokens=10),
        _req("The history of computing is a story", seed=3),
        _req("def fibonacci(n):", seed=4, max_tokens=5, temperature=1.5),
        _req("Bonjour", seed=5, max_tokens=17, temperature=0.3),
    ]
    together = tiny.generate_batch(requests)
    alone = [tiny.generate_batch([r])[0] for r in requests]
    assert together == alone
    assert [r.completion_tokens for r in together] == [10, 24, 5, 17]


def test_tiny_cuts_at_stop_string(tiny: TinyBackend) -> None:
    free = tiny.generate_batch([_req("Hello", temperature=0.0, max_tokens=20)])[0]
    stop = free.text[3:6]
    [cut] = tiny.generate_batch([_req("Hello", temperature=0.0, max_tokens=20, stop=(stop,))])
    assert cut.finish_reason == "stop"
    assert cut.text == free.text[: free.text.index(stop)]
    assert stop not in cut.text


def test_tiny_stops_at_the_context_end(tiny: TinyBackend) -> None:
    prompt = "word " * 505
    count = tiny.count_tokens(prompt)
    assert count is not None and count < 512
    [result] = tiny.generate_batch([_req(prompt, max_tokens=64)])
    assert result.completion_tokens == 512 - count
    assert result.finish_reason == "context"


def test_transformers_backend_loads_the_saved_tiny_dir(
    tiny: TinyBackend, tiny_data_dir: Path
) -> None:
    backend = TransformersBackend(str(tiny_model_dir(tiny_data_dir)))
    backend.load()
    assert backend.info().context_length == 512
    assert backend.info().model_name == str(tiny_model_dir(tiny_data_dir))
    requests = [_req("Knowledge is power", seed=11), _req("Rivers", temperature=0.0)]
    assert backend.generate_batch(requests) == tiny.generate_batch(requests)


def test_transformers_backend_missing_model_is_a_configuration_error(tmp_path: Path) -> None:
    backend = TransformersBackend(str(tmp_path / "nowhere"))
    with pytest.raises(ConfigurationError, match="cannot load model"):
        backend.load()


def test_echo_backend_echoes_words() -> None:
    backend = EchoBackend()
    [a, b] = backend.generate_batch(
        [_req("one two three four", max_tokens=2), _req("alpha beta STOP gamma", stop=("STOP",))]
    )
    assert (a.text, a.completion_tokens, a.finish_reason) == ("one two", 2, "length")
    assert (b.text, b.finish_reason) == ("alpha beta ", "stop")


def test_tiny_streams_whole_characters_that_add_up_to_its_answer(tiny: TinyBackend) -> None:
    request = _req("The cat", seed=11, max_tokens=40)
    seen: list[str] = []

    def sink(index: int, text: str) -> bool:
        assert index == 0
        seen.append(text)
        return True

    (streamed,) = tiny.generate_batch([request], sink)
    (alone,) = tiny.generate_batch([request])
    assert streamed == alone
    assert len(seen) == 40 and seen[-1] == alone.text
    assert all(later.startswith(earlier) for earlier, later in itertools.pairwise(seen))
    assert all("\ufffd" not in text for text in seen)


def test_tiny_stops_a_row_whose_caller_went_away(tiny: TinyBackend) -> None:
    calls = {0: 0, 1: 0}

    def sink(index: int, text: str) -> bool:
        calls[index] += 1
        return index == 1 or calls[0] < 3  # row 0's caller leaves after its third token

    left, stayed = tiny.generate_batch([_req("a", seed=1), _req("b", seed=2)], sink)
    assert left.finish_reason == "cancelled" and calls[0] == 3
    assert stayed.finish_reason == "length" and stayed.completion_tokens == 24


def test_decoding_drops_incomplete_characters() -> None:
    from tensornode.miner.backends.hf_loop import decode_text

    class Bytes:
        """A byte-level tokenizer: each token one byte of UTF-8."""

        def decode(self, tokens: list[int], **_: object) -> str:
            return bytes(tokens).decode("utf-8", errors="replace")

    euro = list("€".encode())  # three bytes
    tok = Bytes()
    assert decode_text(tok, [*b"ab", *euro[:2]], final=False) == "ab"  # held back
    assert decode_text(tok, [*b"ab", *euro], final=False) == "ab€"
    assert decode_text(tok, [*b"ab", *euro[:2]], final=True) == "ab"  # never completed
    assert decode_text(tok, [0xFF, *b"ok"], final=True) == "ok"  # not UTF-8 at all


def test_tiny_answers_in_words_it_was_trained_on(tiny: TinyBackend) -> None:
    from importlib import resources

    text = (resources.files("tensornode.miner") / "data" / "tiny_training.txt").read_text()
    known = {w.strip(".,!?:;'\"").lower() for w in text.split()}
    for seed, prompt in enumerate(["The cat", "What is a miner?", "Tell me about the sea."]):
        (result,) = tiny.generate_batch([_req(prompt, seed=seed, max_tokens=40)])
        words = [w.strip(".,!?:;'\"").lower() for w in result.text.split()]
        words = [w for w in words if w]
        assert len(words) >= 10, result.text
        share = sum(w in known for w in words) / len(words)
        assert share >= 0.7, (share, result.text)
        assert "\ufffd" not in result.text
