"""The embedding scorer with the real offline all-MiniLM-L6-v2."""

from __future__ import annotations

from tensornode.scoring.challenges.open_questions import load_questions
from tensornode.scoring.scorers.embedding import EmbeddingScorer

REF = "Paris is the capital of France."


def test_a_paraphrase_scores_high_an_unrelated_answer_low_and_empty_zero(
    embedder: EmbeddingScorer,
) -> None:
    para, unrelated, empty = embedder.score(
        [
            (REF, "France's capital city is Paris."),
            (REF, "Bananas are a good source of potassium."),
            (REF, ""),
        ]
    )
    assert para.score >= 0.8
    assert unrelated.score <= 0.2
    assert empty.score == 0.0
    assert para.reason.startswith("similarity ")


def test_every_shipped_paraphrase_scores_as_passing(embedder: EmbeddingScorer) -> None:
    questions = load_questions()
    outcomes = embedder.score([(q.reference, q.paraphrase) for q in questions])
    low = [(q.id, o.score) for q, o in zip(questions, outcomes, strict=True) if o.score < 0.5]
    assert low == []


def test_each_questions_paraphrase_beats_other_questions_references(
    embedder: EmbeddingScorer,
) -> None:
    questions = load_questions()
    n = len(questions)
    pairs = []
    for i, q in enumerate(questions):
        pairs.append((q.reference, q.paraphrase))
        pairs += [(q.reference, questions[(i + k) % n].reference) for k in (7, 23, 31)]
    scores = [o.score for o in embedder.score(pairs)]
    beaten = [
        questions[i].id for i in range(n) if max(scores[4 * i + 1 : 4 * i + 4]) >= scores[4 * i]
    ]
    assert beaten == []
