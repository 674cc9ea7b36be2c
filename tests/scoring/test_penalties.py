"""Penalty rules: empty answers, prompt echoes, copy groups on open prompts."""

from __future__ import annotations

from tensornode.scoring.penalties import echoes_prompt, find_copies, is_empty

PROMPT = "Quick one: What is photosynthesis? Answer in one or two sentences."


def test_whitespace_is_an_empty_answer() -> None:
    assert is_empty("  \n\t") and not is_empty(" ok ")


def test_the_prompt_itself_or_most_of_it_is_an_echo() -> None:
    assert echoes_prompt(PROMPT, PROMPT)
    assert echoes_prompt(PROMPT, PROMPT.upper() + "!!")
    assert echoes_prompt(PROMPT, "What is photosynthesis? Answer in one or two sentences.")
    assert echoes_prompt(PROMPT, PROMPT + " Sure.")
    assert echoes_prompt(PROMPT, PROMPT.replace("sentences", "sentence"))


def test_an_answer_that_restates_the_question_is_not_an_echo() -> None:
    answer = (
        "What is photosynthesis? It is how plants turn light, water and carbon dioxide into "
        "sugar and oxygen."
    )
    assert not echoes_prompt(PROMPT, answer)
    assert not echoes_prompt(PROMPT, "photosynthesis")
    sorting = "Sort these numbers in ascending order: 3, 7, 19, 42. Reply with the sorted list."
    assert not echoes_prompt(sorting, "3, 7, 19, 42")


def test_identical_long_answers_are_copies_of_the_first_to_arrive() -> None:
    shared = "Plants use light to turn water and carbon dioxide into sugar."
    answers = {
        "late": shared.upper() + "  ",
        "first": shared,
        "later": shared,
        "own": "Photosynthesis makes sugar from light, water and CO2 in plants.",
        "d": "Paris.",
        "e": "Paris.",
    }
    arrival = {"first": 1, "d": 2, "e": 3, "late": 4, "later": 5, "own": 6}
    copies = find_copies(answers, first=arrival.__getitem__)
    assert copies == {"late": "first", "later": "first"}  # the original keeps its score
    assert find_copies(answers, first=arrival.__getitem__, min_group=4) == {}
    short = find_copies(answers, first=arrival.__getitem__, min_words=1)
    assert short == {"late": "first", "later": "first", "e": "d"}


def test_a_miner_repeating_its_own_answer_copies_nobody() -> None:
    said = "A glacier is a large, slowly moving mass of ice formed from snow."
    answers = {("c1", "a"): said, ("c2", "a"): said, ("c3", "b"): said, ("c4", "a"): said}
    arrival = {("c1", "a"): 1, ("c2", "a"): 2, ("c3", "b"): 3, ("c4", "a"): 4}
    by_miner = {"first": arrival.__getitem__, "author": lambda key: key[1]}
    copies = find_copies(answers, **by_miner)  # type: ignore[arg-type]
    assert copies == {("c3", "b"): ("c1", "a")}  # a's own repeats are not copies
    alone = {k: v for k, v in answers.items() if k[1] == "a"}
    assert find_copies(alone, **by_miner) == {}  # type: ignore[arg-type]
