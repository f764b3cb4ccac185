"""A leaderboard from battle counts: Bradley-Terry ratings with bootstrap intervals, exact
win/loss/tie counts, win rates against the base policy, and the reward model's verdicts on the
same battles beside the humans'.

Everything here is a pure function of the aggregated battles (a few hundred counts, however
many labels there are), which is what makes the leaderboard cheap to cache: ``leaderboard``
memoises its answer on exactly that input, so a request that finds no new label since the
last one costs only the counting query.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from app.leaderboard.bradley_terry import (
    FloatArray,
    expected_score,
    fit_strengths,
    to_rating,
)

BOOTSTRAP_ROUNDS = 1000
CONFIDENCE = 0.95
# The bootstrap is seeded: the same battles always give the same intervals, so a page
# reloaded without new labels does not jiggle.
BOOTSTRAP_SEED = 20221201
# The reward model "rates a policy up and humans do not" when its win rate for the policy is
# above the upper end of the humans' interval for the same battles.
CACHE_SIZE = 64

BETTER, WORSE, SAME = "better", "worse", "same"


@dataclass(frozen=True)
class Source:
    """Where a response came from: a model version (by id), or a name given by an import."""

    version_id: int | None = None
    name: str | None = None

    def key(self) -> tuple[int, int, str]:
        """A total order: versions by id, then import names."""
        if self.version_id is not None:
            return (0, self.version_id, "")
        return (1, 0, self.name or "")


@dataclass(frozen=True)
class Battle:
    """``count`` labels saying ``choice`` (B compared with A) about pairs from ``a`` and ``b``;
    ``reward_choice`` is the reward model's verdict on those pairs, the same way round (None
    when it has not scored them)."""

    a: Source
    b: Source
    choice: str
    count: int
    reward_choice: str | None = None


@dataclass(frozen=True)
class RewardVerdicts:
    """The reward model on one source's scored battles, beside the humans on the same ones."""

    battles: int
    win_rate: float
    human_win_rate: float
    human_low: float
    human_high: float
    # Share of the battles with a human preference (ties left out) where the reward model
    # prefers the same response; None when there is none.
    agreement: float | None
    overrates: bool


@dataclass(frozen=True)
class Entry:
    source: Source
    rating: float
    ci_low: float
    ci_high: float
    wins: int
    losses: int
    ties: int
    battles: int
    win_rate: float
    # What the ratings predict against the base policy (ties half), with its interval.
    win_rate_vs_base: float | None
    win_rate_vs_base_low: float | None
    win_rate_vs_base_high: float | None
    reward: RewardVerdicts | None


@dataclass(frozen=True)
class Board:
    entries: tuple[Entry, ...]
    battles: int
    base: Source | None
    rounds: int
    confidence: float
    reward_battles: int
    reward_agreement: float | None


def leaderboard(
    battles: Iterable[Battle],
    base: Source | None = None,
    *,
    rounds: int = BOOTSTRAP_ROUNDS,
    confidence: float = CONFIDENCE,
    seed: int = BOOTSTRAP_SEED,
) -> Board:
    """The leaderboard of these battles, highest rating first; battles of a source with
    itself are not battles and are left out."""
    kept = tuple(sorted(_merged(b for b in battles if b.a != b.b and b.count > 0), key=_order))
    return _cached_leaderboard(kept, base, rounds, confidence, seed)


def _order(battle: Battle) -> tuple[object, ...]:
    return (battle.a.key(), battle.b.key(), battle.choice, battle.reward_choice or "")


def _merged(battles: Iterable[Battle]) -> list[Battle]:
    counts: dict[tuple[Source, Source, str, str | None], int] = {}
    for b in battles:
        key = (b.a, b.b, b.choice, b.reward_choice)
        counts[key] = counts.get(key, 0) + b.count
    return [Battle(a, b, c, n, r) for (a, b, c, r), n in counts.items()]


@lru_cache(maxsize=CACHE_SIZE)
def _cached_leaderboard(
    battles: tuple[Battle, ...],
    base: Source | None,
    rounds: int,
    confidence: float,
    seed: int,
) -> Board:
    sources = sorted({b.a for b in battles} | {b.b for b in battles}, key=Source.key)
    if len(sources) < 2:
        return Board((), 0, base, rounds, confidence, 0, None)
    index = {s: i for i, s in enumerate(sources)}
    k = len(sources)

    # Outcomes per pair (i < j): i won, tied, j won. Battles are resampled as the counts of
    # these cells, which is what drawing battles with replacement amounts to.
    pairs: dict[tuple[int, int], int] = {}
    outcomes: list[list[int]] = []
    tally = np.zeros((k, 3), dtype=np.int64)  # wins, losses, ties per source
    for b in battles:
        i, j = index[b.a], index[b.b]
        # The choice is B compared with A: "worse" means A won.
        column = {WORSE: 0, SAME: 1, BETTER: 2}[b.choice]
        if i > j:
            i, j, column = j, i, 2 - column
        if (i, j) not in pairs:
            pairs[(i, j)] = len(outcomes)
            outcomes.append([0, 0, 0])
        outcomes[pairs[(i, j)]][column] += b.count
        won, lost = (i, j) if column == 0 else (j, i)
        if column == 1:
            tally[i, 2] += b.count
            tally[j, 2] += b.count
        else:
            tally[won, 0] += b.count
            tally[lost, 1] += b.count
    first = np.array([i for i, _ in pairs])  # (P,)
    second = np.array([j for _, j in pairs])  # (P,)
    counts = np.array(outcomes, dtype=np.int64)  # (P, 3)
    total = int(counts.sum())

    def scores(cells: np.ndarray) -> FloatArray:
        """(..., P, 3) outcome counts -> (..., K, K) score matrices (ties count half)."""
        out = np.zeros((*cells.shape[:-2], k, k))
        out[..., first, second] = cells[..., 0] + 0.5 * cells[..., 1]
        out[..., second, first] = cells[..., 2] + 0.5 * cells[..., 1]
        return out

    theta = fit_strengths(scores(counts))  # (K,)
    rng = np.random.default_rng(seed)
    flat = counts.reshape(-1)  # (P * 3,)
    resampled = rng.multinomial(total, flat / total, size=rounds)  # (R, P * 3)
    boot = fit_strengths(scores(resampled.reshape(rounds, -1, 3)), start=theta)  # (R, K)

    tail = 100 * (1 - confidence) / 2
    ratings, boot_ratings = to_rating(theta), to_rating(boot)
    low, high = np.percentile(boot_ratings, [tail, 100 - tail], axis=0)  # (K,), (K,)
    base_index = index.get(base) if base is not None else None
    vs_base = _vs_base(theta, boot, base_index, tail)
    reward = _reward_verdicts(battles, sources, index, confidence)

    entries = []
    for s in sources:
        i = index[s]
        wins, losses, ties = (int(x) for x in tally[i])
        played = wins + losses + ties
        entries.append(
            Entry(
                source=s,
                rating=float(ratings[i]),
                ci_low=float(low[i]),
                ci_high=float(high[i]),
                wins=wins,
                losses=losses,
                ties=ties,
                battles=played,
                win_rate=(wins + ties / 2) / played,
                win_rate_vs_base=vs_base[i][0],
                win_rate_vs_base_low=vs_base[i][1],
                win_rate_vs_base_high=vs_base[i][2],
                reward=reward.per_source.get(s),
            )
        )
    entries.sort(key=lambda e: (-e.rating, e.source.key()))
    return Board(tuple(entries), total, base, rounds, confidence, reward.battles, reward.agreement)


def _vs_base(
    theta: FloatArray, boot: FloatArray, base: int | None, tail: float
) -> list[tuple[float | None, float | None, float | None]]:
    if base is None:
        return [(None, None, None)] * len(theta)
    point = expected_score(theta, theta[base])  # (K,)
    spread = expected_score(boot, boot[:, base : base + 1])  # (R, K)
    low, high = np.percentile(spread, [tail, 100 - tail], axis=0)
    return [
        (float(point[i]), float(low[i]), float(high[i])) if i != base else (0.5, 0.5, 0.5)
        for i in range(len(theta))
    ]


@dataclass
class _RewardTally:
    battles: int
    agreement: float | None
    per_source: dict[Source, RewardVerdicts]


def _reward_verdicts(
    battles: Sequence[Battle], sources: list[Source], index: dict[Source, int], confidence: float
) -> _RewardTally:
    """The reward model's win rate per source over the battles it scored, beside the humans'
    over the same battles, and how often the two prefer the same response."""
    k = len(sources)
    played = np.zeros(k)
    reward_score = np.zeros(k)
    human_score = np.zeros(k)
    strict = np.zeros(k)
    agreed = np.zeros(k)
    scored = strict_all = agreed_all = 0
    for b in battles:
        if b.reward_choice is None:
            continue
        scored += b.count
        human_b = {BETTER: 1.0, SAME: 0.5, WORSE: 0.0}[b.choice]
        reward_b = {BETTER: 1.0, SAME: 0.5, WORSE: 0.0}[b.reward_choice]
        same_side = b.choice != SAME and b.choice == b.reward_choice
        for who, human, by_reward in ((b.a, 1 - human_b, 1 - reward_b), (b.b, human_b, reward_b)):
            i = index[who]
            played[i] += b.count
            human_score[i] += human * b.count
            reward_score[i] += by_reward * b.count
            if b.choice != SAME:
                strict[i] += b.count
                agreed[i] += b.count if same_side else 0
        if b.choice != SAME:
            strict_all += b.count
            agreed_all += b.count if same_side else 0
    z = _normal_quantile(0.5 + confidence / 2)
    per_source = {}
    for s in sources:
        i = index[s]
        if not played[i]:
            continue
        human = human_score[i] / played[i]
        low, high = wilson_interval(human, played[i], z)
        rate = reward_score[i] / played[i]
        per_source[s] = RewardVerdicts(
            battles=int(played[i]),
            win_rate=float(rate),
            human_win_rate=float(human),
            human_low=low,
            human_high=high,
            agreement=float(agreed[i] / strict[i]) if strict[i] else None,
            overrates=bool(rate > high),
        )
    agreement = agreed_all / strict_all if strict_all else None
    return _RewardTally(scored, agreement, per_source)


def wilson_interval(share: float, n: float, z: float) -> tuple[float, float]:
    """Wilson's score interval for a proportion observed as ``share`` of ``n``."""
    if n <= 0:
        return 0.0, 1.0
    centre = (share + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(share * (1 - share) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def _normal_quantile(p: float) -> float:
    from statistics import NormalDist

    return NormalDist().inv_cdf(p)
