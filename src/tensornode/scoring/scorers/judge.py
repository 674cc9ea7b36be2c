"""An LLM judge on any OpenAI-compatible ``/chat/completions`` URL (off by default).

The judge is asked at temperature 0 for one integer 0-100; the reply must hold exactly
one such integer (``"87"``, ``"Score: 87"``) or it counts as a failure. On any failure
(transport error, non-2xx, malformed JSON, no single integer) the prior validator's
heuristic (:mod:`.fallback`) scores instead, and the reason says so.
"""

from __future__ import annotations

import re

import httpx

from tensornode.scoring.schemas import Outcome
from tensornode.scoring.scorers.fallback import score_fallback

_INTEGER = re.compile(r"(?<![\d.])\d{1,3}(?![\d.])")
_OUT_OF_100 = re.compile(r"\s*(?:/|out of)\s*100\b")

SYSTEM_PROMPT = (
    "You grade answers. Compare the candidate answer with the reference answer for the "
    "question and rate its correctness and completeness from 0 (wrong) to 100 (fully "
    "correct). Reply with a single integer and nothing else."
)


class JudgeError(Exception):
    """The judge gave no usable grade (caught here, never leaves this module)."""


def parse_grade(content: str) -> int:
    """The single integer 0..100 in ``content`` (``87``, ``Score: 87/100``);
    :class:`JudgeError` otherwise."""
    found = [int(m) for m in _INTEGER.findall(_OUT_OF_100.sub("", content))]
    if len(found) != 1 or not 0 <= found[0] <= 100:
        raise JudgeError(f"no single grade 0-100 in {content[:40]!r}")
    return found[0]


class JudgeScorer:
    """Grades answers with a chat model; falls back to the heuristic when it fails."""

    def __init__(
        self,
        url: str,
        model: str,
        *,
        client: httpx.AsyncClient,
        api_key: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        base = url.rstrip("/")
        self.url = base if base.endswith("/chat/completions") else f"{base}/chat/completions"
        self.model = model
        self.client = client
        self.api_key = api_key
        self.timeout = timeout

    async def grade(self, question: str, truth: str, answer: str) -> int:
        """The judge's integer grade; :class:`JudgeError` when there is none."""
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        body = {
            "model": self.model,
            "temperature": 0,
            "max_tokens": 8,
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {
                    "role": "user",
                    "content": f"Question: {question}\nReference answer: {truth}\n"
                    f"Candidate answer: {answer}\nGrade (0-100):",
                },
            ],
        }
        try:
            resp = await self.client.post(
                self.url, json=body, headers=headers, timeout=self.timeout
            )
            resp.raise_for_status()
            content = resp.json()["choices"][0]["message"]["content"]
        except httpx.HTTPStatusError as exc:
            raise JudgeError(f"HTTP {exc.response.status_code}") from exc
        except httpx.HTTPError as exc:
            raise JudgeError(f"{type(exc).__name__}: {exc}") from exc
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise JudgeError(f"malformed judge response: {exc!r}") from exc
        return parse_grade(str(content))

    async def score(self, question: str, truth: str, answer: str) -> Outcome:
        """Judge grade / 100, or the heuristic's score with the judge's failure as reason."""
        try:
            grade = await self.grade(question, truth, answer)
        except JudgeError as exc:
            fallback = score_fallback(truth, answer)
            return Outcome(fallback.score, f"judge failed ({exc}); fallback {fallback.reason}")
        return Outcome(grade / 100, f"judge grade {grade}")
