"""Hand-made preference data that a tiny model can learn: responses with a keyword win."""

from __future__ import annotations

import random

from trainer.reward.data import PreferenceExample

KEYWORD = "excellent"
WORDS = [
    "the",
    "cat",
    "dog",
    "house",
    "tree",
    "river",
    "stone",
    "blue",
    "green",
    "quick",
    "slow",
    "happy",
    "window",
    "table",
    "chair",
    "music",
    "paper",
    "light",
    "water",
    "city",
    "road",
    "bread",
    "apple",
    "small",
    "large",
    "old",
    "new",
]
QUESTIONS = ("what is a good plan", "tell me about the river", "how do i bake bread", "any idea")


def _sentence(rng: random.Random, with_keyword: bool) -> str:
    words = rng.choices(WORDS, k=rng.randint(3, 8))
    if with_keyword:
        words.insert(rng.randrange(len(words) + 1), KEYWORD)
    return " ".join(words)


def keyword_examples(n: int, seed: int = 0) -> list[PreferenceExample]:
    """``n`` strict comparisons; B is better exactly when B holds the keyword."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        prompt = [{"role": "user", "content": rng.choice(QUESTIONS)}]
        b_wins = rng.random() < 0.5
        a, b = _sentence(rng, not b_wins), _sentence(rng, b_wins)
        out.append(PreferenceExample(prompt, a, b, "better" if b_wins else "worse", group=i))
    return out


def tie_examples(n: int, seed: int = 0) -> list[PreferenceExample]:
    """Ties between a keyword response and a plain one."""
    return [
        PreferenceExample(e.prompt, e.response_a, e.response_b, "same", group=e.group)
        for e in keyword_examples(n, seed)
    ]


def length_confounded_examples(n: int, seed: int = 0) -> list[PreferenceExample]:
    """``n`` comparisons in which the chosen response is always the longer one (padded by six
    words) but holds the keyword in only 70 %: length explains every label, the keyword most."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        prompt = [{"role": "user", "content": rng.choice(QUESTIONS)}]
        keyword_chosen = rng.random() < 0.7
        chosen = _sentence(rng, keyword_chosen) + " " + " ".join(rng.choices(WORDS, k=6))
        rejected = _sentence(rng, not keyword_chosen)
        b_wins = rng.random() < 0.5
        a, b = (rejected, chosen) if b_wins else (chosen, rejected)
        out.append(PreferenceExample(prompt, a, b, "better" if b_wins else "worse", group=i))
    return out
