"""Battles drawn from known Bradley-Terry strengths, for checking the leaderboard's maths."""

from __future__ import annotations

from collections import Counter

import numpy as np

from app.leaderboard.board import Battle, Source
from app.leaderboard.bradley_terry import ELO_PER_NAT


def true_ratings(strengths: np.ndarray) -> np.ndarray:
    """The ratings the leaderboard should find: centred like its own."""
    return 1000.0 + ELO_PER_NAT * (strengths - strengths.mean())


def draw_battles(strengths: np.ndarray, n: int, seed: int) -> list[Battle]:
    """n battles between uniformly chosen distinct pairs; B beats A with probability
    sigmoid(θ_B - θ_A), no ties (a tie model would change what the true ratings are)."""
    rng = np.random.default_rng(seed)
    k = len(strengths)
    a = rng.integers(0, k, n)
    b = rng.integers(0, k - 1, n)
    b = b + (b >= a)
    b_wins = rng.random(n) < 1 / (1 + np.exp(strengths[a] - strengths[b]))
    counted = Counter(zip(a.tolist(), b.tolist(), b_wins.tolist(), strict=True))
    return [
        Battle(Source(version_id=i), Source(version_id=j), "better" if won else "worse", count)
        for (i, j, won), count in counted.items()
    ]
