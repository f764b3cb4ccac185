"""A separable preference for the tiny character-level policy: answers written with the
letters of "chosen" words beat answers written with others, on any prompt."""

from __future__ import annotations

import random

from trainer.reward.data import PreferenceExample

GOOD = "aeiost"
BAD = "bcdgkm"
TOPICS = ["cats", "rain", "tea", "boats", "snow", "birds", "bread", "hills", "music", "fire"]


def _words(rng: random.Random, letters: str) -> str:
    return " ".join(
        "".join(rng.choice(letters) for _ in range(rng.randint(2, 5)))
        for _ in range(rng.randint(2, 4))
    )


def separable_examples(n: int, seed: int = 0) -> list[PreferenceExample]:
    """``n`` pairs, one comparison each, A/B order random (both "better" and "worse" occur)."""
    rng = random.Random(seed)
    examples = []
    for i in range(n):
        prompt = [{"role": "user", "content": f"tell me about {rng.choice(TOPICS)} {i}"}]
        good, bad = _words(rng, GOOD), _words(rng, BAD)
        if rng.random() < 0.5:
            examples.append(PreferenceExample(prompt, bad, good, "better", group=i))
        else:
            examples.append(PreferenceExample(prompt, good, bad, "worse", group=i))
    return examples
