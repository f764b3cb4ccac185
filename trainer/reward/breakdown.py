"""Where a reward model is right, and how much of it is length: pure functions on margins.

A reward model can score well on HH data by preferring the longer response (Singhal et al.,
2023): helpful pairs mostly reward length, harmless pairs mostly punish it. So beside overall
accuracy we report accuracy per subset (helpful, harmless), on the pairs whose chosen response
is the *shorter* one, what the rule "the longer response wins" scores on each of these, and
the correlation between the model's score margin and the length difference. Used by
``rlhf reward-eval`` and ``bench/reward.py``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

SHORTER_CHOSEN = "shorter_chosen"


def length_difference(chosen: str, rejected: str) -> int:
    """Characters of the chosen response minus those of the rejected one."""
    return len(chosen) - len(rejected)


def pearson(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Pearson correlation; nan when either side has no spread or fewer than 2 points."""
    n = len(xs)
    if n != len(ys):
        raise ValueError("xs and ys differ in length")
    if n < 2:
        return float("nan")
    mx, my = sum(xs) / n, sum(ys) / n
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    if sxx == 0 or syy == 0:
        return float("nan")
    return sxy / math.sqrt(sxx * syy)


def _accuracy(hits: Sequence[bool]) -> float:
    return sum(hits) / len(hits) if hits else float("nan")


def preference_breakdown(
    margins: Sequence[float],
    length_diffs: Sequence[int],
    subsets: Sequence[str] | None = None,
) -> dict[str, float]:
    """Metrics of strict pairs from ``margins`` (score of chosen minus rejected) and
    ``length_diffs`` (chosen minus rejected, characters); ``subsets`` names each pair's
    subset ("helpful", "harmless", ...).

    Keys: ``accuracy`` and ``n``; ``accuracy_<part>``, ``length_rule_accuracy_<part>`` and
    ``n_<part>`` for each subset and for ``shorter_chosen``; ``length_rule_accuracy``;
    ``margin_length_corr``. Equal scores count as wrong, as do equal lengths for the length
    rule (it cannot pick).
    """
    if len(margins) != len(length_diffs):
        raise ValueError("margins and length_diffs differ in length")
    names = list(subsets) if subsets is not None else [""] * len(margins)
    if len(names) != len(margins):
        raise ValueError("subsets and margins differ in length")
    right = [m > 0 for m in margins]
    longer_wins = [d > 0 for d in length_diffs]
    parts: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        if name:
            parts.setdefault(name, []).append(i)
    parts[SHORTER_CHOSEN] = [i for i, d in enumerate(length_diffs) if d < 0]
    out = {
        "accuracy": _accuracy(right),
        "n": float(len(right)),
        "length_rule_accuracy": _accuracy(longer_wins),
    }
    for name, idx in parts.items():
        out[f"accuracy_{name}"] = _accuracy([right[i] for i in idx])
        out[f"length_rule_accuracy_{name}"] = _accuracy([longer_wins[i] for i in idx])
        out[f"n_{name}"] = float(len(idx))
    out["margin_length_corr"] = pearson(list(margins), [float(d) for d in length_diffs])
    return out
