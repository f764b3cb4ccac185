"""What each kind of simulated rater answers, and how long it says it took."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

from app.models import Choice
from app.simulation.spec import RaterGroup

HONEST_ACCURACY = 0.75
# Seconds a careful rater spends on a pair (log-normal around this median) and a fast one.
CAREFUL_MEDIAN_S = 15.0
FAST_MEDIAN_S = 0.5


@dataclass(frozen=True)
class Shown:
    """A pair as the API gave it: its truth (None if unknown) and the screen order."""

    comparison_id: int
    truth: Choice | None
    shown_swapped: bool


def _opposite(choice: Choice, rng: random.Random) -> Choice:
    if choice is Choice.better:
        return Choice.worse
    if choice is Choice.worse:
        return Choice.better
    return rng.choice((Choice.better, Choice.worse))


@dataclass
class Rater:
    kind: str
    param: float | None
    rng: random.Random
    # Colluders share a key, so that they lie about the same pairs.
    group_key: str = ""

    def needs_truth(self) -> bool:
        return self.kind in ("honest", "fast", "flipper", "colluders")

    def choose(self, shown: Shown) -> Choice:
        """The choice as the API takes it: B compared with A, in the comparison's order."""
        kind, rng, truth = self.kind, self.rng, shown.truth
        if kind == "left":
            # The left of the screen is A, or B when shown swapped; picking it says "B is
            # worse than A", or "better" when swapped.
            return Choice.better if shown.shown_swapped else Choice.worse
        if kind.startswith("always-"):
            return Choice(kind.removeprefix("always-"))
        if kind == "random" or truth is None:
            return rng.choice((Choice.better, Choice.worse))
        if kind == "flipper":
            return _opposite(truth, rng)
        if kind == "colluders":
            share = self.param if self.param is not None else 0.5
            digest = hashlib.sha256(f"{self.group_key}:{shown.comparison_id}".encode()).digest()
            if digest[0] / 256 < share:
                return _opposite(truth, random.Random(digest))
            accuracy = HONEST_ACCURACY
        else:
            accuracy = self.param if self.param is not None else HONEST_ACCURACY
        return truth if rng.random() < accuracy else _opposite(truth, rng)

    def time_spent_ms(self) -> int:
        median = FAST_MEDIAN_S if self.kind == "fast" else CAREFUL_MEDIAN_S
        return int(1000 * median * self.rng.lognormvariate(0, 0.5))


def build_raters(groups: list[RaterGroup], seed: int) -> list[Rater]:
    raters = []
    rng = random.Random(seed)
    for number, group in enumerate(groups):
        for _ in range(group.count):
            raters.append(
                Rater(
                    kind=group.kind,
                    param=group.param,
                    rng=random.Random(rng.getrandbits(64)),
                    group_key=f"{seed}:{number}",
                )
            )
    return raters
